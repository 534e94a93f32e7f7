/// The two sides of an s2s session: the sender (Noise initiator) offers and sends files, the
/// receiver (Noise responder, holding the endpoint's key) accepts or refuses them and confirms each.
public enum ProtocolRole: Sendable, Hashable, CustomStringConvertible {
    case sender, receiver

    /// The other side.
    public var peer: ProtocolRole {
        switch self {
        case .sender: .receiver
        case .receiver: .sender
        }
    }

    public var description: String {
        switch self {
        case .sender: "sender"
        case .receiver: "receiver"
        }
    }
}
