/// Why a side ends a session early (CANCEL). As coarse as ``RefuseCode``, for the same reason.
public enum CancelCode: UInt8, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// A user on this side cancelled the transfer.
    case cancelled = 1
    /// The other side broke the protocol.
    case protocolError = 2
    /// The other side was silent for too long.
    case timeout = 3
    /// The endpoint's quota ran out (receiver).
    case quotaExceeded = 4
    /// The receiving file system ran out of space (receiver).
    case insufficientSpace = 5
    /// The endpoint was deleted, expired or disabled during the transfer (receiver).
    case endpointGone = 6
    /// The daemon is stopping.
    case shuttingDown = 7
    /// A local failure unrelated to the other side.
    case internalError = 8
    /// The sender stops for now and will offer the same token again (`Pause`): the receiver keeps
    /// the token and the partial data, as after a lost connection, and shows the transfer paused.
    /// Sent only to a receiver whose HELLO has ``Hello/Feature/pause``.
    case paused = 9

    public var description: String {
        switch self {
        case .cancelled: "cancelled"
        case .protocolError: "protocol error"
        case .timeout: "timeout"
        case .quotaExceeded: "quota exceeded"
        case .insufficientSpace: "insufficient space"
        case .endpointGone: "endpoint gone"
        case .shuttingDown: "shutting down"
        case .internalError: "internal error"
        case .paused: "paused"
        }
    }
}
