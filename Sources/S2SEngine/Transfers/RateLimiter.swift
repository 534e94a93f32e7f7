import Synchronization

/// Paces a stream of bytes to a rate that may change at any moment, beneath an optional parent
/// that other streams share: a transfer's own limit under the daemon's upload or download limit.
///
/// A token bucket in which a taker is charged at once and then waits off its debt, so that a
/// large chunk is never refused, only paid for. It waits in steps of at most a quarter of a
/// second, so a limit that is raised, lowered or removed takes effect within that time. Unused
/// credit is capped at an eighth of a second of the rate (at least 64 KiB): a stream that was
/// idle cannot burst far above its limit afterwards. A rate of 0 means no limit.
package final class RateLimiter: Sendable {
    private struct Bucket {
        package var rate: UInt64
        /// Bytes that may pass without waiting; negative: bytes already passed and not yet paid for.
        package var credit: Double = 0
        package var refilled: ContinuousClock.Instant

        package var capacity: Double { max(Double(rate) / 8, 65536) }

        package mutating func refill(at now: ContinuousClock.Instant) {
            let elapsed = now - refilled
            refilled = now
            guard rate > 0 else {
                credit = 0
                return
            }
            credit = min(capacity, credit + elapsed / .seconds(1) * Double(rate))
        }
    }

    /// The longest single wait, so that a changed limit applies promptly.
    private static let maxStep = 0.25

    private let bucket: Mutex<Bucket>
    /// A limit shared with other streams, paid after this one.
    package let parent: RateLimiter?
    /// What credit accrues by and debt is waited off on.
    package let clock: any EngineClock

    /// A limit of `rate` bytes per second (0: none) beneath `parent`, timed by `clock` (nil: the
    /// parent's, so that a family of limiters shares one time; the system's without a parent).
    package init(rate: UInt64 = 0, parent: RateLimiter? = nil, clock: (any EngineClock)? = nil) {
        let clock = clock ?? parent?.clock ?? SystemClock()
        bucket = Mutex(Bucket(rate: rate, refilled: clock.now))
        self.parent = parent
        self.clock = clock
    }

    /// Bytes per second; 0: unlimited.
    package var rate: UInt64 { bucket.withLock { $0.rate } }

    /// Whether neither this limit nor a parent's holds bytes back now.
    package var isUnlimited: Bool { rate == 0 && (parent?.isUnlimited ?? true) }

    /// Changes the limit for bytes taken from now on (and for the debt still being waited off).
    package func setRate(_ rate: UInt64) {
        bucket.withLock {
            $0.refill(at: clock.now)
            $0.rate = rate
            $0.credit = min($0.credit, $0.capacity)
            if rate == 0 { $0.credit = 0 }
        }
    }

    /// Returns once `count` more bytes may pass under this limit and the parent's; throws
    /// `CancellationError` if the task is cancelled while it waits.
    package func take(_ count: Int) async throws {
        var charged = false
        while true {
            let wait: Double? = bucket.withLock {
                $0.refill(at: clock.now)
                guard $0.rate > 0 else { return nil }
                if !charged {
                    $0.credit -= Double(count)
                    charged = true
                }
                return $0.credit >= 0 ? nil : min(-$0.credit / Double($0.rate), Self.maxStep)
            }
            guard let wait else { break }
            try await clock.sleep(for: .seconds(wait))
        }
        try await parent?.take(count)
    }
}
