import Testing
@testable import S2SEngine

/// The queue's backoff (docs/queue.md, "Retries").
struct RetryPolicyTests {
    let policy = RetryPolicy()

    @Test func delaysDoubleFromOneSecondToFiveMinutes() {
        #expect(policy.delay(afterFailures: 1, jitter: 1) == 1_000_000)
        #expect(policy.delay(afterFailures: 2, jitter: 1) == 2_000_000)
        #expect(policy.delay(afterFailures: 3, jitter: 1) == 4_000_000)
        #expect(policy.delay(afterFailures: 9, jitter: 1) == 256_000_000)
        #expect(policy.delay(afterFailures: 10, jitter: 1) == 300_000_000)
        #expect(policy.delay(afterFailures: 1000, jitter: 1) == 300_000_000)
        #expect(policy.delay(afterFailures: .max, jitter: 1) == 300_000_000)
        #expect(policy.delay(afterFailures: 0, jitter: 1) == 1_000_000)
    }

    @Test func jitterTakesAtMostAQuarterAndDelaysStillGrow() {
        #expect(policy.delay(afterFailures: 1, jitter: 0) == 750_000)
        #expect(policy.delay(afterFailures: 4, jitter: 0) == 6_000_000)
        // Out-of-range jitter is clamped.
        #expect(policy.delay(afterFailures: 1, jitter: -3) == 750_000)
        #expect(policy.delay(afterFailures: 1, jitter: 7) == 1_000_000)
        // The shortest delay after n+1 failures exceeds the longest after n, until the cap.
        for failures: UInt32 in 1..<9 {
            #expect(policy.delay(afterFailures: failures + 1, jitter: 0) > policy.delay(afterFailures: failures, jitter: 1))
        }
    }

    @Test func retriesUntilTheDeadline() {
        let now: UInt64 = 1_000_000_000
        #expect(
            policy.decide(failures: 1, attempts: 1, rejections: 0, maxAttempts: nil, deadline: now + 10_000_000, now: now, jitter: 1)
                == .retry(at: now + 1_000_000))
        guard case .giveUp(let reason) = policy.decide(
            failures: 5, attempts: 5, rejections: 0, maxAttempts: nil, deadline: now + 10_000_000, now: now, jitter: 1)
        else {
            Issue.record("expected to give up: 16 s is past the deadline")
            return
        }
        #expect(reason.contains("deadline"))
        // RetryFor 0: the deadline is the creation, so the first failure ends it.
        #expect(policy.decide(failures: 1, attempts: 1, rejections: 0, maxAttempts: nil, deadline: now, now: now, jitter: 0) != .retry(at: now + 750_000))
    }

    @Test func maxAttemptsAndHandshakeRejectionsEndIt() {
        let now: UInt64 = 5
        let far = UInt64.max
        if case .giveUp(let reason) = policy.decide(failures: 2, attempts: 2, rejections: 0, maxAttempts: 2, deadline: far, now: now, jitter: 0) {
            #expect(reason.contains("2 attempts"))
        } else {
            Issue.record("MaxAttempts 2 after 2 attempts must give up")
        }
        #expect(policy.decide(failures: 2, attempts: 2, rejections: 2, maxAttempts: 3, deadline: far, now: now, jitter: 0) == .retry(at: now + 1_500_000))
        if case .giveUp(let reason) = policy.decide(failures: 3, attempts: 3, rejections: 3, maxAttempts: nil, deadline: far, now: now, jitter: 0) {
            #expect(reason == "the receiver has no endpoint with this ID (mistyped, or deleted)")
        } else {
            Issue.record("three handshake rejections must give up")
        }
    }
}
