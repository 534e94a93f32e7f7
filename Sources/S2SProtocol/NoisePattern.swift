/// The interactive handshake patterns this module implements, as token tables transcribed from
/// section 7 of the Noise specification (revision 34).
///
/// Only the patterns s2s may use are present: NK is the peer protocol (decision 4); NN, XK, IK
/// and XX are kept because they exercise every token and are covered by the published vectors.
public enum NoisePattern: String, Sendable, Hashable, CaseIterable {
    case nn = "NN"
    case nk = "NK"
    case xk = "XK"
    case ik = "IK"
    case xx = "XX"

    /// One step of a message pattern: send or receive a public key, or mix in a DH result.
    public enum Token: Sendable, Hashable {
        case e, s, ee, es, se, ss
    }

    /// Keys the initiator is assumed to have shared before the handshake (`-> s` above the `...`).
    public var initiatorPreMessage: [Token] {
        []
    }

    /// Keys the responder is assumed to have shared before the handshake (`<- s` above the `...`).
    public var responderPreMessage: [Token] {
        switch self {
        case .nn, .xx: []
        case .nk, .xk, .ik: [.s]
        }
    }

    /// The handshake messages in order; even indices are sent by the initiator, odd by the responder.
    public var messages: [[Token]] {
        switch self {
        case .nn: [[.e], [.e, .ee]]
        case .nk: [[.e, .es], [.e, .ee]]
        case .xk: [[.e, .es], [.e, .ee], [.s, .se]]
        case .ik: [[.e, .es, .s, .ss], [.e, .ee, .se]]
        case .xx: [[.e], [.e, .ee, .s, .es], [.s, .se]]
        }
    }
}
