/// Exponential backoff with jitter for reconnecting to a relay: each delay doubles up to
/// `maximum`, drawn uniformly from its upper half so that many endpoints reconnecting after a
/// relay restart spread out. ``reset()`` after a success.
public struct RelayBackoff: Sendable {
    public let initial: Duration
    public let maximum: Duration
    private var current: Duration

    public init(initial: Duration, maximum: Duration) {
        self.initial = initial
        self.maximum = maximum
        current = initial
    }

    /// The next delay.
    public mutating func next() -> Duration {
        let delay = current
        current = min(current * 2, maximum)
        return delay / 2 + delay / 2 * Double.random(in: 0...1)
    }

    public mutating func reset() {
        current = initial
    }
}
