import S2SProtocol
import Synchronization
import Testing
@testable import S2SEngine

/// Relay to direct: how many attempts a daemon runs at once, and the holes of further connections.
struct DirectPathTests {
    final class Count: Sendable {
        private let value = Mutex(0)
        func add() { value.withLock { $0 += 1 } }
        var current: Int { value.withLock { $0 } }
    }

    @Test func attemptsBeyondTheBoundAreDeclinedAndSlotsComeBack() async {
        let started = Count()
        let declined = Count()
        await withTaskGroup(of: Void.self) { group in
            // Every slot held by an attempt that waits until all have started.
            for _ in 0..<DirectPath.mostAtOnce {
                group.addTask {
                    _ = await DirectPath.inSlot {
                        started.add()
                        while started.current < DirectPath.mostAtOnce { await Task.yield() }
                        try? await Task.sleep(for: .milliseconds(200))
                        return 1
                    } otherwise: {
                        declined.add()
                    }
                }
            }
            while started.current < DirectPath.mostAtOnce { await Task.yield() }
            let extra = await DirectPath.inSlot { 1 } otherwise: { declined.add() }
            #expect(extra == nil)
        }
        #expect(declined.current == 1)
        #expect(await DirectPath.inSlot { 2 } otherwise: {} == 2, "the slots are free again")
    }

    @Test func furtherConnectionsUseTheNextPortsOnBothSides() {
        let path = DirectPath.Punched(localPort: 40000, candidates: [DirectCandidate(ip: [198, 19, 0, 12], port: 50000)!, DirectCandidate(ip: [198, 18, 20, 2], port: 65535)!])
        let third = path.stripe(3)
        #expect(third.localPort == 40003)
        #expect(third.candidates == [DirectCandidate(ip: [198, 19, 0, 12], port: 50003)!], "no port past 65535")
    }
}
