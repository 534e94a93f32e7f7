/// Why a STUN exchange gave no mapped address: a malformed or foreign reply, a server's error
/// response, or no reply in time.
public enum StunError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The bytes are not a STUN message (RFC 8489 section 5), or one of its attributes is broken.
    case malformed(String)
    /// The server answered with an error response (ERROR-CODE).
    case errorResponse(code: Int, reason: String)
    /// No reply before the deadline.
    case timeout
    /// The network refused (resolving, binding, connecting).
    case network(String)

    public var description: String {
        switch self {
        case .malformed(let reason): "malformed STUN message: \(reason)"
        case .errorResponse(let code, let reason): "STUN error \(code)\(reason.isEmpty ? "" : " (\(reason))")"
        case .timeout: "no reply"
        case .network(let reason): reason
        }
    }
}
