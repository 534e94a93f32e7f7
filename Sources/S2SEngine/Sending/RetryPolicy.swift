/// When a send that failed for a passing reason tries again (docs/queue.md, "Retries").
///
/// Exponential backoff with jitter: the n-th consecutive failure waits `initialDelay * 2^(n-1)`,
/// at most `maxDelay`, scaled by a random factor from 0.75 to 1, so that many senders that lost
/// the same receiver do not come back in lockstep, while each delay still exceeds the previous one
/// until the maximum. A send gives up once its next attempt would start after its deadline
/// (`RetryFor`, from its creation), after `maxAttempts` attempts, or after
/// ``maxHandshakeRejections`` consecutive handshakes closed by the receiver (what a receiver that
/// does not serve the endpoint does).
struct RetryPolicy: Sendable, Equatable {
    var initialDelay: UInt64 = 1_000_000
    var maxDelay: UInt64 = 300_000_000
    /// Consecutive handshakes closed by the receiver after which the endpoint counts as unknown.
    var maxHandshakeRejections: UInt32 = 3

    /// What to do after a failed attempt.
    enum Decision: Sendable, Equatable {
        /// Try again at this time (microseconds since the epoch).
        case retry(at: UInt64)
        /// Stop: the reason says which limit ended it.
        case giveUp(String)
    }

    /// The wait after `failures` consecutive failures (1: the first), in microseconds, for a
    /// `jitter` from 0 to 1.
    func delay(afterFailures failures: UInt32, jitter: Double) -> UInt64 {
        let exponent = min(max(failures, 1) - 1, 40)
        let (scaled, overflow) = initialDelay.multipliedReportingOverflow(by: 1 << UInt64(exponent))
        let base = overflow ? maxDelay : min(scaled, maxDelay)
        let factor = 0.75 + 0.25 * min(max(jitter, 0), 1)
        return UInt64(Double(base) * factor)
    }

    /// The decision after an attempt failed with a passing error.
    ///
    /// - Parameters:
    ///   - failures: consecutive failed attempts, this one included.
    ///   - attempts: attempts started in all.
    ///   - rejections: consecutive handshakes closed by the receiver, this one included if it was.
    ///   - deadline: when retrying stops (microseconds since the epoch).
    func decide(
        failures: UInt32, attempts: UInt32, rejections: UInt32, maxAttempts: UInt32?, deadline: UInt64, now: UInt64, jitter: Double
    ) -> Decision {
        if rejections >= maxHandshakeRejections {
            return .giveUp("the receiver has no endpoint with this ID (mistyped, or deleted)")
        }
        if let maxAttempts, attempts >= maxAttempts {
            return .giveUp("gave up after \(attempts) attempt\(attempts == 1 ? "" : "s")")
        }
        let next = now &+ delay(afterFailures: failures, jitter: jitter)
        guard next <= deadline else { return .giveUp("gave up retrying: the retry deadline passed") }
        return .retry(at: next)
    }
}
