import Testing
@testable import S2SEngine

/// The token bucket that paces transfers. Only lower bounds on time are asserted (sleeping is
/// never shorter than asked), and upper bounds only where they are generous, so that a slow
/// machine cannot fail these.
struct RateLimiterTests {
    /// Seconds `body` took.
    private func seconds(_ body: () async throws -> Void) async rethrows -> Double {
        let start = ContinuousClock.now
        try await body()
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
    }

    @Test func unlimitedNeverWaits() async throws {
        let limiter = RateLimiter()
        let elapsed = try await seconds { for _ in 0..<1000 { try await limiter.take(1 << 20) } }
        #expect(elapsed < 1)
    }

    @Test func bytesBeyondTheCreditWaitForTheRate() async throws {
        // 4 MiB/s: the bucket starts empty, so 2 MiB take at least half a second.
        let limiter = RateLimiter(rate: 4 << 20)
        let elapsed = try await seconds { for _ in 0..<32 { try await limiter.take(64 << 10) } }
        #expect(elapsed >= 0.45)
    }

    @Test func theParentLimitsEveryChild() async throws {
        let shared = RateLimiter(rate: 4 << 20)
        let children = [RateLimiter(parent: shared), RateLimiter(rate: 100 << 20, parent: shared)]
        // 2 MiB through two children of a 4 MiB/s parent: half a second at least, together.
        let elapsed = try await seconds {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for child in children {
                    group.addTask { for _ in 0..<16 { try await child.take(64 << 10) } }
                }
                try await group.waitForAll()
            }
        }
        #expect(elapsed >= 0.45)
    }

    @Test func removingTheLimitReleasesAWaitingTaker() async throws {
        // 16 KiB/s and 4 MiB: over four minutes' debt, released at the next step once the limit
        // goes (the bound leaves room for a machine whose threads are all busy).
        let limiter = RateLimiter(rate: 16 << 10)
        let elapsed = try await seconds {
            async let taken: Void = limiter.take(4 << 20)
            try await Task.sleep(for: .milliseconds(300))
            limiter.setRate(0)
            try await taken
        }
        #expect(elapsed < 60)
        #expect(limiter.rate == 0)
    }

    @Test func aCancelledTakerStopsWaiting() async throws {
        let limiter = RateLimiter(rate: 1024)
        let task = Task { try await limiter.take(1 << 20) }
        try await Task.sleep(for: .milliseconds(100))
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
    }

    @Test func idleCreditIsCapped() async throws {
        // After a second idle at 1 MiB/s, at most an eighth of a second (128 KiB) passes at once:
        // the next 512 KiB still wait about three eighths of a second.
        let limiter = RateLimiter(rate: 1 << 20)
        try await Task.sleep(for: .seconds(1))
        let elapsed = try await seconds { for _ in 0..<8 { try await limiter.take(64 << 10) } }
        #expect(elapsed >= 0.3)
    }
}
