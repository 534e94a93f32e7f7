/// Why a receiver refuses an offer (REFUSE). Deliberately coarse: the sender learns nothing about
/// the endpoint beyond this code (DESIGN.md, invariants).
public enum RefuseCode: UInt8, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Refused, no reason given (e.g. the endpoint is disabled, or the receiver's policy says no).
    case refused = 1
    /// The endpoint's quota would be exceeded.
    case quotaExceeded = 2
    /// The receiving file system lacks the space (including its reserve).
    case insufficientSpace = 3
    /// The endpoint has expired or its use count is spent.
    case endpointExpired = 4
    /// More entries, longer paths in total, or larger records than the receiver accepts.
    case tooLarge = 5
    /// Too many concurrent transfers; try again later.
    case busy = 6
    /// The sender's HELLO names a protocol version the receiver does not speak.
    case version = 7
    /// The offer broke the protocol (a bad path, a wrong count, a record out of order...).
    case malformedOffer = 8

    public var description: String {
        switch self {
        case .refused: "refused"
        case .quotaExceeded: "quota exceeded"
        case .insufficientSpace: "insufficient space"
        case .endpointExpired: "endpoint expired or used up"
        case .tooLarge: "too many entries or too large"
        case .busy: "busy"
        case .version: "unsupported protocol version"
        case .malformedOffer: "malformed offer"
        }
    }
}
