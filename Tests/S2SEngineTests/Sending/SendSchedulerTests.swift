import Testing
@testable import S2SEngine

/// Which queued sends start (docs/queue.md, "Scheduling").
struct SendSchedulerTests {
    private func candidate(_ number: Int64, priority: Int32 = 0, to destination: String = "a", token: UInt8? = nil, notBefore: UInt64 = 0)
        -> SendScheduler.Candidate
    {
        SendScheduler.Candidate(
            number: number, priority: priority, destination: destination, tokenKey: [token ?? UInt8(number)], notBefore: notBefore)
    }

    @Test func higherPriorityFirstThenFirstComeFirstServed() {
        let queue = [candidate(1, priority: 0), candidate(2, priority: 5), candidate(3, priority: -3), candidate(4, priority: 5),
                     candidate(5, priority: 0)]
        #expect(SendScheduler.ordered(queue).map(\.number) == [2, 4, 1, 5, 3])
        let picked = SendScheduler.pick(queue.map { c in candidate(c.number, priority: c.priority, to: "d\(c.number)") },
                                        active: [], maxActive: 3, maxPerDestination: 3, now: 0)
        #expect(picked == [2, 4, 1])
    }

    @Test func theTotalLimitCountsRunningSends() {
        let queue = (1...10).map { candidate($0, to: "d\($0)") }
        #expect(SendScheduler.pick(queue, active: [("x", [100]), ("y", [101])], maxActive: 3, maxPerDestination: 2, now: 0) == [1])
        #expect(SendScheduler.pick(queue, active: [("x", [100]), ("y", [101]), ("z", [102])], maxActive: 3, maxPerDestination: 2, now: 0).isEmpty)
    }

    @Test func thePerDestinationLimitSkipsToOtherDestinations() {
        let queue = [candidate(1, to: "a"), candidate(2, to: "a"), candidate(3, to: "a"), candidate(4, to: "b")]
        #expect(SendScheduler.pick(queue, active: [], maxActive: 10, maxPerDestination: 2, now: 0) == [1, 2, 4])
        #expect(SendScheduler.pick(queue, active: [("a", [99])], maxActive: 10, maxPerDestination: 2, now: 0) == [1, 4])
    }

    @Test func notBeforeAndSharedTokensWait() {
        let queue = [candidate(1, notBefore: 100), candidate(2, token: 7), candidate(3, token: 7), candidate(4)]
        #expect(SendScheduler.pick(queue, active: [], maxActive: 10, maxPerDestination: 10, now: 50) == [2, 4])
        #expect(SendScheduler.pick(queue, active: [("a", [7])], maxActive: 10, maxPerDestination: 10, now: 100) == [1, 4])
    }
}
