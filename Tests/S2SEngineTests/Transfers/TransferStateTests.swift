import S2SCore
import S2SProtocol
import Synchronization
import Testing
@testable import S2SEngine

/// The transfer's states and the requests a session receives: cancel (final) and pause
/// (cleared by resume), each handed to the attempt that runs now.
struct TransferStateTests {
    private func transfer() -> Transfer {
        Transfer(number: 1, direction: .send, owner: 1, digestAlgorithm: "xxh3-128", initialState: .queued)
    }

    @Test func onlyTheEndStatesAreFinished() {
        #expect(Transfer.State.allCases.filter(\.isFinished) == [.done, .failed, .cancelled])
        #expect(!Transfer.State.queued.isFinished && !Transfer.State.paused.isFinished)
    }

    @Test func aPauseReachesTheRunningAttemptAsNil() {
        let t = transfer()
        let seen = Mutex<[CancelCode?]>([])
        t.onCancel { code in seen.withLock { $0.append(code) } }
        t.requestPause()
        t.requestPause()
        #expect(seen.withLock { $0 } == [nil])
        #expect(t.pauseRequested && t.cancelRequest == nil)
        t.clearPause()
        #expect(!t.pauseRequested)
    }

    @Test func aCancelIsFinalAndReachesTheNextAttemptToo() {
        let t = transfer()
        #expect(t.requestCancel())
        let seen = Mutex<[CancelCode?]>([])
        t.onCancel { code in seen.withLock { $0.append(code) } }
        #expect(seen.withLock { $0 } == [.cancelled])
        t.clearCancelHandler()
        #expect(t.finish(.cancelled, error: "cancelled"))
        #expect(!t.requestCancel())
        #expect(!t.finish(.done))
        #expect(t.snapshot.state == .cancelled && t.snapshot.finishedTimestamp > 0)
    }
}
