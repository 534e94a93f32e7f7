import Foundation
import Synchronization
import Testing
@testable import S2SEngine

struct PendingResultTests {
    @Test func aResultDeliveredFirstIsTakenWithoutWaiting() async {
        let pending = PendingResult<Int>()
        #expect(!pending.isComplete)
        pending.complete(1)
        pending.complete(2)  // the first delivery counts
        #expect(pending.isComplete)
        #expect(await pending.value() == 1)
    }

    @Test func aTaskWaitsUntilAnotherThreadDelivers() async {
        let pending = PendingResult<String>()
        async let taken = pending.value()
        Thread.detachNewThread {
            usleep(50_000)
            pending.complete("done")
        }
        #expect(await taken == "done")
    }

    /// A worker's job started without waiting runs after the jobs submitted before it, as the
    /// worker's user, and hands its result over.
    @Test func aWorkerJobStartedWithoutWaiting() async throws {
        let worker = try UserWorker(try UserContext.lookup(uid: getuid()))
        defer { worker.stop() }
        let order = Mutex<[String]>([])
        async let first: Void = try worker.receive { () throws(ReceiveError) in
            Thread.sleep(forTimeInterval: 0.05)
            order.withLock { $0.append("first") }
        }
        try await Task.sleep(for: .milliseconds(10))
        let pending = worker.startReceiving { () throws(ReceiveError) -> uid_t in
            order.withLock { $0.append("second") }
            return geteuid()
        }
        try await first
        #expect(try await pending.value().get() == getuid())
        #expect(order.withLock { $0 } == ["first", "second"])
        worker.stop()
        // A stopped worker refuses at once.
        let refused = worker.startReceiving { () throws(ReceiveError) in 0 }
        #expect(refused.isComplete)
        await #expect(throws: ReceiveError.self) { try await refused.value().get() }
    }
}
