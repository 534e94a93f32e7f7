#if canImport(Glibc)
import Glibc
#endif

/// A failure of the receiving file-system layer, with the context a log needs and the coarse
/// code a sender may learn (docs/protocol.md, FILE_RESULT and REFUSE; DESIGN.md: the sender learns
/// nothing more specific than a short code).
struct ReceiveError: Error, Equatable, CustomStringConvertible {
    /// What went wrong, as far as the protocol and the caller need to tell cases apart.
    enum Kind: Sendable, Equatable {
        /// A path was malformed, or resolving it would leave the endpoint or follow a symbolic link.
        case invalidPath
        /// The endpoint's owner may not do this (the kernel said EACCES or EPERM).
        case accessDenied
        /// Any other failure to create, write, sync or rename.
        case writeFailed
        /// The owner's disk quota (EDQUOT) or the endpoint's quota ran out.
        case quotaExceeded
        /// The file system is full (ENOSPC) or writing would eat into the free-space reserve.
        case insufficientSpace
        /// The digest of the received bytes differs from the sender's.
        case integrity
    }

    let kind: Kind
    /// For the receiver's log and its own user; never sent to the peer.
    let message: String
    /// The `errno` of the failed system call, or 0.
    let systemCode: Int32

    init(_ kind: Kind, _ message: String, systemCode: Int32 = 0) {
        self.kind = kind
        self.message = message
        self.systemCode = systemCode
    }

    var description: String { message }

    /// A failed system call: `errno` picks the kind, the message says what was being done.
    static func system(_ code: Int32, _ action: String) -> ReceiveError {
        let kind: Kind =
            switch code {
            case EDQUOT: .quotaExceeded
            case ENOSPC: .insufficientSpace
            case EACCES, EPERM: .accessDenied
            case ELOOP, EXDEV, ENOTDIR: .invalidPath
            default: .writeFailed
            }
        return ReceiveError(kind, "\(action): \(String(cString: strerror(code)))", systemCode: code)
    }

    /// The FILE_RESULT code for a file that failed with this error: 1 integrity, 2 write error,
    /// 3 quota exceeded, 4 insufficient space (`FileResultCode` in S2SProtocol).
    var fileResultCode: UInt8 {
        switch kind {
        case .integrity: 1
        case .quotaExceeded: 3
        case .insufficientSpace: 4
        case .invalidPath, .accessDenied, .writeFailed: 2
        }
    }

    /// The REFUSE code for an offer that cannot be accepted because of this error: 2 quota
    /// exceeded, 3 insufficient space, 8 malformed offer (a bad path), else 1, refused without a
    /// reason (`RefuseCode` in S2SProtocol).
    var refuseCode: UInt8 {
        switch kind {
        case .quotaExceeded: 2
        case .insufficientSpace: 3
        case .invalidPath: 8
        case .accessDenied, .writeFailed, .integrity: 1
        }
    }

    /// The same failure as a D-Bus error, for methods that report receive problems to a local user.
    var daemonError: EngineError {
        switch kind {
        case .invalidPath: .invalidPath(message)
        case .accessDenied: .accessDenied(message)
        case .quotaExceeded, .insufficientSpace: .limitExceeded(message)
        case .writeFailed, .integrity: .failed(message)
        }
    }
}
