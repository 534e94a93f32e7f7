/// Why the relay part of a connection failed (before the peer protocol started).
public enum RelayError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A relay address that does not parse.
    case badAddress(String)
    /// Connecting to the relay failed (refused, unreachable, name lookup).
    case unreachable(relay: String, reason: String)
    /// The relay answered something other than `ok\n` (e.g. `bad handshake`, `impatient`).
    case refused(relay: String, answer: String)
    /// The relay closed the connection before pairing (restarted, or dropped this connection as
    /// redundant because another one with the same token and side was paired).
    case closedBeforePairing(relay: String)
    /// Nobody was paired with this connection in the time allowed.
    case notPaired(relay: String)

    public var description: String {
        switch self {
        case .badAddress(let reason): reason
        case .unreachable(let relay, let reason): "cannot reach the relay \(relay): \(reason)"
        case .refused(let relay, let answer): "the relay \(relay) answered \"\(answer)\" instead of ok"
        case .closedBeforePairing(let relay): "the relay \(relay) closed the connection before pairing"
        case .notPaired(let relay): "no receiver was waiting at the relay \(relay) for this ID"
        }
    }
}
