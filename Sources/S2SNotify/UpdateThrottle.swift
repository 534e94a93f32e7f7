/// Bounds how often one notification is updated: a transfer's progress arrives up to four times
/// a second, and servers animate or even re-announce each `Notify`, so updates go out at most
/// once per `interval`; what arrives in between is shown by the next allowed update.
public struct UpdateThrottle: Sendable {
    public let interval: Duration
    private var lastSent: ContinuousClock.Instant?

    public init(interval: Duration) {
        self.interval = interval
    }

    /// Whether an update may go out at `now`.
    public func allows(_ now: ContinuousClock.Instant) -> Bool {
        guard let lastSent else { return true }
        return now - lastSent >= interval
    }

    /// Records that an update went out at `now`.
    public mutating func sent(_ now: ContinuousClock.Instant) {
        lastSent = now
    }
}
