/// The monotonic time and the sleeps of the engine's timers (rate limiting, the doorbells its
/// loops wait on, progress and retention of transfers), as one value that is passed in.
///
/// Production code uses ``SystemClock``, which is `ContinuousClock` and `Task.sleep`. Tests pass
/// a clock that moves only when they move it, so that they assert exact times instead of
/// wall-clock bounds and never sleep. Swift's `Clock` protocol would need a clock-generic type
/// for every user and an `Instant` type of the test's own; this needs neither.
package protocol EngineClock: Sendable {
    /// The current instant; it never goes backwards.
    var now: ContinuousClock.Instant { get }

    /// Returns after `duration` has passed on this clock; throws `CancellationError` if the task
    /// is cancelled first.
    func sleep(for duration: Duration) async throws
}

/// The real clock: `ContinuousClock` (which keeps counting while the machine is suspended) and
/// `Task.sleep`.
package struct SystemClock: EngineClock {
    package init() {}

    package var now: ContinuousClock.Instant { .now }

    package func sleep(for duration: Duration) async throws {
        try await Task.sleep(for: duration)
    }
}
