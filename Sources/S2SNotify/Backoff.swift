/// Delays between attempts to reach something that is not there (the daemon's bus): short at
/// first, doubling up to a ceiling, so that a daemon that comes back is found quickly and a bus
/// that stays away costs almost nothing.
public struct Backoff: Sendable {
    public let initial: Duration
    public let maximum: Duration
    private var current: Duration

    public init(initial: Duration = .milliseconds(250), maximum: Duration = .seconds(30)) {
        self.initial = initial
        self.maximum = max(initial, maximum)
        self.current = initial
    }

    /// The delay before the next attempt; each call doubles the following one, up to `maximum`.
    public mutating func next() -> Duration {
        let delay = current
        current = min(current * 2, maximum)
        return delay
    }

    /// After a success: the next failure starts again from `initial`.
    public mutating func reset() {
        current = initial
    }
}
