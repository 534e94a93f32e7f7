import Testing
@testable import S2SEngine

/// The token bucket that paces transfers, on a ``ManualClock``: each test asserts the exact
/// time a take returns at. Rates and sizes are powers of two, so that every wait is exact in
/// binary and no rounding enters the instants compared.
@Suite(.timeLimit(.minutes(1)))
struct RateLimiterTests {
    private let clock = ManualClock()

    @Test func unlimitedNeverWaits() async throws {
        let limiter = RateLimiter(clock: clock)
        let start = clock.now
        try await clock.run { for _ in 0..<1000 { try await limiter.take(1 << 20) } }
        #expect(clock.now == start)
    }

    @Test func bytesBeyondTheCreditWaitForTheRate() async throws {
        // 4 MiB/s: the bucket starts empty, so 2 MiB take half a second, no more, no less.
        let limiter = RateLimiter(rate: 4 << 20, clock: clock)
        let start = clock.now
        try await clock.run { for _ in 0..<32 { try await limiter.take(64 << 10) } }
        #expect(clock.now - start == .milliseconds(500))
    }

    @Test func aLargeTakeWaitsInSteps() async throws {
        // 1 MiB at 1 MiB/s is a second of debt, waited off in steps of a quarter of a second so
        // that a changed limit applies within one step.
        let limiter = RateLimiter(rate: 1 << 20, clock: clock)
        let start = clock.now
        let taker = Task { try await limiter.take(1 << 20) }
        for step in 1...4 {
            await clock.sleepers(atLeast: 1)
            #expect(clock.nextDeadline == start + .milliseconds(250 * step))
            clock.advance(by: .milliseconds(250))
        }
        try await taker.value
        #expect(clock.sleeperCount == 0)
    }

    @Test func theParentLimitsEveryChild() async throws {
        // 2 MiB through two children of a 4 MiB/s parent, one without a limit of its own and one
        // with a much higher one: the last byte passes half a second after the first, together.
        let shared = RateLimiter(rate: 4 << 20, clock: clock)
        let children = [RateLimiter(parent: shared), RateLimiter(rate: 128 << 20, parent: shared)]
        let start = clock.now
        try await clock.run {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for child in children {
                    group.addTask { for _ in 0..<16 { try await child.take(64 << 10) } }
                }
                try await group.waitForAll()
            }
        }
        #expect(clock.now - start == .milliseconds(500))
    }

    @Test func removingTheLimitReleasesAWaitingTaker() async throws {
        // 16 KiB/s and 4 MiB: over four minutes' debt, released at the end of the step under way
        // once the limit goes.
        let limiter = RateLimiter(rate: 16 << 10, clock: clock)
        let start = clock.now
        let taker = Task { try await limiter.take(4 << 20) }
        await clock.sleepers(atLeast: 1)
        limiter.setRate(0)
        try await clock.run { try await taker.value }
        #expect(clock.now - start == .milliseconds(250))
        #expect(limiter.rate == 0)
    }

    @Test func aCancelledTakerStopsWaiting() async throws {
        let limiter = RateLimiter(rate: 1024, clock: clock)
        let start = clock.now
        let taker = Task { try await limiter.take(1 << 20) }
        await clock.sleepers(atLeast: 1)
        taker.cancel()
        await #expect(throws: CancellationError.self) { try await taker.value }
        #expect(clock.now == start)
        #expect(clock.sleeperCount == 0)
    }

    @Test func idleCreditIsCapped() async throws {
        // After a second idle at 1 MiB/s, an eighth of a second (128 KiB) passes at once: the
        // next 512 KiB wait exactly three eighths of a second, not nothing.
        let limiter = RateLimiter(rate: 1 << 20, clock: clock)
        clock.advance(by: .seconds(1))
        let start = clock.now
        try await clock.run { for _ in 0..<8 { try await limiter.take(64 << 10) } }
        #expect(clock.now - start == .milliseconds(375))
    }

    @Test func childrenKeepTheirParentsClock() {
        let parent = RateLimiter(clock: clock)
        let child = RateLimiter(parent: parent)
        #expect(child.clock as? ManualClock === clock)
        #expect(RateLimiter().clock is SystemClock)
    }
}
