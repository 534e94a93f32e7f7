import Testing
@testable import S2SEngine

/// Which queued sends start (docs/queue.md, "Scheduling").
struct SendSchedulerTests {
    private func candidate(
        _ number: Int64, owner: UInt32 = 1000, priority: Int32 = 0, to destination: String = "a", token: UInt8? = nil,
        notBefore: UInt64 = 0
    ) -> SendScheduler.Candidate {
        SendScheduler.Candidate(
            number: number, owner: owner, priority: priority, destination: destination, tokenKey: [token ?? UInt8(number)],
            notBefore: notBefore)
    }

    private func running(_ destination: String, _ token: UInt8, owner: UInt32 = 1000) -> SendScheduler.Running {
        SendScheduler.Running(owner: owner, destination: destination, tokenKey: [token])
    }

    private func limits(active: Int, perUser: Int = 100, perDestination: Int) -> SendScheduler.Limits {
        SendScheduler.Limits(maxActive: active, maxPerUser: perUser, maxPerDestination: perDestination)
    }

    @Test func higherPriorityFirstThenFirstComeFirstServed() {
        let queue = [candidate(1, priority: 0), candidate(2, priority: 5), candidate(3, priority: -3), candidate(4, priority: 5),
                     candidate(5, priority: 0)]
        #expect(SendScheduler.ordered(queue).map(\.number) == [2, 4, 1, 5, 3])
        let picked = SendScheduler.pick(queue.map { c in candidate(c.number, priority: c.priority, to: "d\(c.number)") },
                                        active: [], limits: limits(active: 3, perDestination: 3), now: 0)
        #expect(picked == [2, 4, 1])
    }

    @Test func theTotalLimitCountsRunningSends() {
        let queue = (1...10).map { candidate($0, to: "d\($0)") }
        #expect(SendScheduler.pick(queue, active: [running("x", 100), running("y", 101)], limits: limits(active: 3, perDestination: 2), now: 0) == [1])
        #expect(SendScheduler.pick(queue, active: [running("x", 100), running("y", 101), running("z", 102)],
                                   limits: limits(active: 3, perDestination: 2), now: 0).isEmpty)
    }

    @Test func thePerDestinationLimitSkipsToOtherDestinations() {
        let queue = [candidate(1, to: "a"), candidate(2, to: "a"), candidate(3, to: "a"), candidate(4, to: "b")]
        #expect(SendScheduler.pick(queue, active: [], limits: limits(active: 10, perDestination: 2), now: 0) == [1, 2, 4])
        #expect(SendScheduler.pick(queue, active: [running("a", 99)], limits: limits(active: 10, perDestination: 2), now: 0) == [1, 4])
    }

    @Test func notBeforeAndSharedTokensWait() {
        let queue = [candidate(1, notBefore: 100), candidate(2, token: 7), candidate(3, token: 7), candidate(4)]
        #expect(SendScheduler.pick(queue, active: [], limits: limits(active: 10, perDestination: 10), now: 50) == [2, 4])
        #expect(SendScheduler.pick(queue, active: [running("a", 7)], limits: limits(active: 10, perDestination: 10), now: 100) == [1, 4])
    }

    @Test func slotsAlternateBetweenUsers() {
        // User 1 queued ten sends first, user 2 two; four slots go two and two, the older first.
        let queue = (1...10).map { candidate($0, owner: 1, to: "d\($0)") } + [candidate(11, owner: 2, to: "e1"), candidate(12, owner: 2, to: "e2")]
        #expect(SendScheduler.pick(queue, active: [], limits: limits(active: 4, perDestination: 4), now: 0) == [1, 11, 2, 12])
    }

    @Test func oneUserNeverHoldsEverySlot() {
        // User 1 runs three long sends (its share); user 2's send starts in the slot left.
        let busy = (1...3).map { running("d\($0)", UInt8(100 + $0), owner: 1) }
        let queue = [candidate(4, owner: 1, to: "d4"), candidate(5, owner: 2, to: "e")]
        #expect(SendScheduler.pick(queue, active: busy, limits: limits(active: 4, perUser: 3, perDestination: 4), now: 0) == [5])
        // Alone, user 1 still gets only its share: the fourth slot stays free for whoever comes.
        #expect(SendScheduler.pick([candidate(4, owner: 1, to: "d4")], active: busy,
                                   limits: limits(active: 4, perUser: 3, perDestination: 4), now: 0).isEmpty)
    }

    @Test func priorityDoesNotJumpAnotherUsersQueue() {
        let queue = [candidate(1, owner: 1, priority: 100, to: "a"), candidate(2, owner: 1, priority: 100, to: "b"),
                     candidate(3, owner: 2, priority: -100, to: "c")]
        #expect(SendScheduler.pick(queue, active: [running("x", 9, owner: 1)], limits: limits(active: 2, perDestination: 4), now: 0) == [3])
    }
}
