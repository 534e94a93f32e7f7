import Testing
@testable import S2SEngine

/// The doorbell the daemon's loops sleep on, on a ``ManualClock``: a ring is never lost, a
/// deadline ends a wait exactly when it comes, and a wait that timed out leaves the doorbell
/// working (an `AsyncStream` raced against a timer did not: every wait after the first timeout
/// returned at once).
///
/// A wait that should end on a ring is given a deadline that the test never reaches, so a lost
/// ring shows as a wait that returns late (the clock moved) or not at all (the time limit).
@Suite(.timeLimit(.minutes(1)))
struct DoorbellTests {
    private let clock = ManualClock()
    private static let longWait: Duration = .seconds(600)

    /// Waits up to `delay` in a task and returns the clock's time when the wait returned.
    private func waiting(upTo delay: Duration?, on doorbell: Doorbell) -> Task<ContinuousClock.Instant, Never> {
        Task { [clock] in
            await doorbell.wait(upTo: delay)
            return clock.now
        }
    }

    @Test func aRingBeforeTheWaitIsKept() async {
        let doorbell = Doorbell(clock: clock)
        let start = clock.now
        doorbell.ring()
        doorbell.ring()
        // The ring ends the wait with no time passed. Nothing moves the clock here (no `run`,
        // whose driver would jump to the wait's deadline the moment its timer sleeps, racing the
        // ring on a loaded machine): a lost ring leaves the wait hanging until the time limit.
        await doorbell.wait(upTo: Self.longWait)
        #expect(clock.now == start)
        // Two rings before a wait are one: the next wait lasts until its deadline.
        await clock.run { await doorbell.wait(upTo: .milliseconds(200)) }
        #expect(clock.now - start == .milliseconds(200))
    }

    @Test func waitsAfterTimeoutsStillSleepAndStillHearRings() async {
        let doorbell = Doorbell(clock: clock)
        let start = clock.now
        for round in 1...3 {
            let wait = waiting(upTo: .milliseconds(100), on: doorbell)
            await clock.sleepers(atLeast: 1)
            clock.advance(by: .milliseconds(99))
            clock.advance(by: .milliseconds(1))
            // Returned at its deadline, not before (the clock stood still until then).
            #expect(await wait.value - start == .milliseconds(100 * round))
        }
        let wait = waiting(upTo: Self.longWait, on: doorbell)
        await clock.sleepers(atLeast: 1)
        doorbell.ring()
        #expect(await wait.value - start == .milliseconds(300))
    }

    @Test func aRingWakesAParkedWaiter() async {
        let doorbell = Doorbell(clock: clock)
        let wait = waiting(upTo: nil, on: doorbell)
        await parked(doorbell)
        let start = clock.now
        doorbell.ring()
        #expect(await wait.value == start)
        #expect(!doorbell.hasWaiter)
    }

    @Test func cancellingTheWaiterEndsTheWait() async {
        let doorbell = Doorbell(clock: clock)
        let waiter = waiting(upTo: nil, on: doorbell)
        await parked(doorbell)
        waiter.cancel()
        _ = await waiter.value
        #expect(!doorbell.hasWaiter)
        // The cancelled wait took no ring away.
        doorbell.ring()
        let start = clock.now
        // As in aRingBeforeTheWaitIsKept: no clock driver, so only the ring can end this wait.
        await doorbell.wait(upTo: Self.longWait)
        #expect(clock.now == start)
    }

    @Test func aWaitCancelledBeforeItParksReturnsAtOnce() async {
        let doorbell = Doorbell(clock: clock)
        let start = clock.now
        let waiter = Task { [clock] in
            withUnsafeCurrentTask { $0?.cancel() }
            await doorbell.wait(upTo: Self.longWait)
            return clock.now
        }
        #expect(await waiter.value == start)
        #expect(!doorbell.hasWaiter)
    }

    /// Returns once a loop waits on `doorbell` for a ring: the state a ring or a cancellation
    /// must reach. (The doorbell offers no event for it; the waiter parks within a few turns of
    /// the scheduler.)
    private func parked(_ doorbell: Doorbell) async {
        while !doorbell.hasWaiter { await Task.yield() }
    }
}
