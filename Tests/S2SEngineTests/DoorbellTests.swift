import Testing
@testable import S2SEngine

/// The doorbell the daemon's loops sleep on: a ring is never lost, a deadline ends a wait, and
/// a wait that timed out leaves the doorbell working (an `AsyncStream` raced against a timer did
/// not: every wait after the first timeout returned at once).
///
/// Upper bounds are loose on purpose: other suites running at once can keep the concurrency
/// pool's threads busy for seconds; a lost ring shows as a wait that runs to its long deadline.
struct DoorbellTests {
    private static let longWait: Duration = .seconds(600)
    private static let muchSooner: Duration = .seconds(300)

    @Test func aRingBeforeTheWaitIsKept() async {
        let doorbell = Doorbell()
        doorbell.ring()
        doorbell.ring()
        let clock = ContinuousClock()
        let took = await clock.measure { await doorbell.wait(upTo: Self.longWait) }
        #expect(took < Self.muchSooner)
        // Two rings before a wait are one: the next wait sleeps until its deadline.
        let second = await clock.measure { await doorbell.wait(upTo: .milliseconds(200)) }
        #expect(second >= .milliseconds(200))
    }

    @Test func waitsAfterTimeoutsStillSleepAndStillHearRings() async {
        let doorbell = Doorbell()
        let clock = ContinuousClock()
        for _ in 0..<3 {
            let took = await clock.measure { await doorbell.wait(upTo: .milliseconds(100)) }
            #expect(took >= .milliseconds(100))
        }
        Task {
            try? await Task.sleep(for: .milliseconds(100))
            doorbell.ring()
        }
        let took = await clock.measure { await doorbell.wait(upTo: Self.longWait) }
        #expect(took >= .milliseconds(100) && took < Self.muchSooner)
    }

    @Test func cancellingTheWaiterEndsTheWait() async {
        let doorbell = Doorbell()
        let waiter = Task { await doorbell.wait(upTo: nil) }
        try? await Task.sleep(for: .milliseconds(50))
        waiter.cancel()
        await waiter.value
        // The cancelled wait took no ring away.
        doorbell.ring()
        let took = await ContinuousClock().measure { await doorbell.wait(upTo: Self.longWait) }
        #expect(took < Self.muchSooner)
    }
}
