import Logging
import S2SProtocol
import Testing
@testable import S2SEngine

/// What the end of a send's attempt means for its queue (docs/queue.md, "Retries").
struct SendConclusionTests {
    private func outcome(
        _ ending: SendEnding?, failures: [String] = [], cancelRequested: Bool = false, pauseRequested: Bool = false
    ) -> SendOutcome {
        SendConclusion(ending, failures: failures, cancelRequested: cancelRequested, pauseRequested: pauseRequested).outcome
    }

    @Test func aCompleteSessionIsDoneUnlessFilesFailed() {
        #expect(outcome(nil) == .done)
        #expect(outcome(nil, failures: ["a: integrity"]) == .failed("a: integrity"))
        #expect(outcome(nil, failures: ["a: integrity", "b: writeError"]) == .failed("2 files failed; the first: a: integrity"))
    }

    @Test func busyIsTheOnlyRefusalThatRetries() {
        #expect(outcome(.refused(.busy)) == .retry("the receiver refused the transfer: \(RefuseCode.busy)", rejected: false))
        #expect(outcome(.refused(.quotaExceeded)) == .failed("the receiver refused the transfer: \(RefuseCode.quotaExceeded)"))
        #expect(outcome(.refused(.insufficientSpace)) == .failed("the receiver refused the transfer: \(RefuseCode.insufficientSpace)"))
    }

    @Test func theReceiversCancelRetriesOnlyPassingConditions() {
        #expect(outcome(.cancelledByReceiver(.cancelled)) == .cancelled("cancelled by the receiver: \(CancelCode.cancelled)"))
        for code in [CancelCode.shuttingDown, .timeout, .internalError] {
            #expect(outcome(.cancelledByReceiver(code)) == .retry("cancelled by the receiver: \(code)", rejected: false))
        }
        #expect(outcome(.cancelledByReceiver(.protocolError)) == .failed("cancelled by the receiver: \(CancelCode.protocolError)"))
    }

    @Test func aPauseIsNotACancel() {
        #expect(outcome(.cancelledHere(.cancelled, "cancelled"), pauseRequested: true) == .retry("paused", rejected: false))
        #expect(outcome(.cancelledHere(.cancelled, "cancelled"), cancelRequested: true, pauseRequested: true) == .cancelled("cancelled"))
        #expect(outcome(.cancelledHere(.cancelled, "cancelled")) == .cancelled("cancelled"))
        #expect(outcome(.cancelledHere(.protocolError, "bad")) == .failed("bad"))
        // The attempt that a pause closed: retried once resumed, and not logged as an interruption.
        let paused = SendConclusion(.paused, failures: [], cancelRequested: false, pauseRequested: true)
        #expect(paused.outcome == .retry("paused", rejected: false) && paused.level == .debug)
    }

    @Test func lostRelayAndHandshakeEndingsRetry() {
        #expect(outcome(.lost("reset")) == .retry("reset", rejected: false))
        #expect(outcome(.noReceiver("none")) == .retry("none", rejected: false))
        #expect(
            outcome(.rejected("closed"))
                == .retry("the receiver closed the connection during the handshake", rejected: true))
    }
}
