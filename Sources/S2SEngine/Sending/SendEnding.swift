import Logging
import S2SPeer
import S2SProtocol

/// How a send's session ended early (`SendSession`); nil for a session that ran to DONE_ACK.
enum SendEnding: Error, Equatable {
    case refused(RefuseCode)
    case cancelledByReceiver(CancelCode)
    /// This side sent CANCEL (a user's request, or the receiver broke the protocol).
    case cancelledHere(CancelCode, String)
    /// The connection broke; the token is kept for a retry.
    case lost(String)
    /// The user paused the transfer: this side ended the attempt (CANCEL(paused), or a close);
    /// the token is kept for when it resumes.
    case paused
    /// The relay route found no receiver (or no working relay) before the deadline; nothing
    /// was sent. The token is kept: a transfer interrupted earlier still resumes.
    case noReceiver(String)
    /// The receiver closed the connection during the handshake: it does not serve the
    /// endpoint, or it stopped at that moment.
    case rejected(String)

    /// A connection that the receiver closed during the handshake (rather than one that could
    /// not be opened at all).
    static func isHandshakeRejection(_ error: any Error) -> Bool {
        guard let error = error as? PeerError else { return false }
        switch error {
        case .handshakeFailed, .closed: return true
        default: return false
        }
    }
}

/// What the end of a send's attempt means for its queue (`SendOutcome`), and the line the log
/// gets: pure, so that the classification is tested without a session (`SendConclusionTests`).
struct SendConclusion {
    let outcome: SendOutcome
    let level: Logger.Level
    let message: Logger.Message
    let metadata: Logger.Metadata?

    /// - Parameters:
    ///   - ending: how the session ended; nil: it ran to DONE_ACK.
    ///   - failures: the files that failed, in order (a session that ran to its end).
    ///   - cancelRequested, pauseRequested: whether a user asked to cancel or pause the transfer
    ///     (read when the ending is this side's CANCEL: a pause closes the connection too).
    init(_ ending: SendEnding?, failures: [String], cancelRequested: Bool, pauseRequested: Bool) {
        switch ending {
        case nil:
            if failures.isEmpty {
                self.init(.done, .info, "transfer done")
                return
            }
            let summary = failures.count == 1 ? failures[0] : "\(failures.count) files failed; the first: \(failures[0])"
            self.init(.failed(summary), .warning, "transfer finished with failures", ["failed_files": "\(failures.count)"])
        case .refused(let code):
            let reason = "the receiver refused the transfer: \(code)"
            // Busy is the one refusal that passes: the receiver runs too many transfers now.
            self.init(
                code == .busy ? .retry(reason, rejected: false) : .failed(reason), .notice, "refused by the receiver",
                ["code": "\(code)"])
        case .cancelledByReceiver(let code):
            let reason = "cancelled by the receiver: \(code)"
            let outcome: SendOutcome =
                switch code {
                case .cancelled: .cancelled(reason)
                case .shuttingDown, .timeout, .internalError: .retry(reason, rejected: false)
                default: .failed(reason)
                }
            self.init(outcome, .notice, "cancelled by the receiver", ["code": "\(code)"])
        case .cancelledHere(let code, let reason):
            let outcome: SendOutcome =
                code != .cancelled
                ? .failed(reason)
                // A pause closes the connection too; it is not a cancel.
                : !cancelRequested && pauseRequested ? .retry("paused", rejected: false) : .cancelled(reason)
            self.init(outcome, .notice, "transfer cancelled", ["code": "\(code)", "reason": "\(reason)"])
        case .noReceiver(let reason):
            self.init(.retry(reason, rejected: false), .notice, "no receiver at the relay", ["reason": "\(reason)"])
        case .rejected(let reason):
            self.init(
                .retry("the receiver closed the connection during the handshake", rejected: true), .notice,
                "the receiver closed the handshake", ["reason": "\(reason)"])
        case .lost(let reason):
            self.init(.retry(reason, rejected: false), .notice, "transfer interrupted", ["reason": "\(reason)"])
        case .paused:
            // The queue says "transfer paused" once the attempt is over.
            self.init(.retry("paused", rejected: false), .debug, "attempt ended for the pause")
        }
    }

    private init(_ outcome: SendOutcome, _ level: Logger.Level, _ message: Logger.Message, _ metadata: Logger.Metadata? = nil) {
        self.outcome = outcome
        self.level = level
        self.message = message
        self.metadata = metadata
    }
}
