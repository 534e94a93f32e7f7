import Testing
@testable import S2SNotify

struct BackoffTests {
    @Test func doublesUpToTheCeilingAndStartsOverAfterASuccess() {
        var backoff = Backoff(initial: .milliseconds(250), maximum: .seconds(2))
        #expect((0..<6).map { _ in backoff.next() } == [.milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2), .seconds(2), .seconds(2)])
        backoff.reset()
        #expect(backoff.next() == .milliseconds(250))
    }

    @Test func theThrottleLetsOneUpdateThroughPerInterval() {
        let start = ContinuousClock.now
        var throttle = UpdateThrottle(interval: .seconds(1))
        #expect(throttle.allows(start))
        throttle.sent(start)
        #expect(!throttle.allows(start + .milliseconds(999)))
        #expect(throttle.allows(start + .seconds(1)))
    }
}
