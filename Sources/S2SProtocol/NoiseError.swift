/// Everything that can go wrong in the Noise layer, with enough context to log a useful line.
///
/// Any error thrown by ``HandshakeState`` other than a rejected call (``wrongState``) or a refused
/// outgoing payload (``messageTooLong``) aborts the handshake: the peer sent something bad, so the
/// connection must be closed.
public enum NoiseError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The protocol name is malformed or names a pattern, DH, cipher or hash this module lacks.
    case unsupportedProtocolName(String, reason: String)
    /// The handshake pattern needs a key that was not supplied, e.g. an NK initiator without the
    /// responder's static public key.
    case missingKey(String)
    /// A key has the wrong length: `what` names the key.
    case badKeyLength(String, expected: Int, actual: Int)
    /// A Noise message would exceed, or does exceed, the 65535-byte limit of the specification.
    case messageTooLong(length: Int, limit: Int)
    /// An incoming message is shorter than the pattern (or an AEAD tag) requires.
    case messageTooShort(length: Int, minimum: Int)
    /// Authenticated decryption failed: the message was altered, truncated, replayed or reordered,
    /// or was sealed under another key.
    case decryptionFailed
    /// The cipher's 64-bit nonce has reached 2^64-1, which the specification reserves; the session
    /// must be re-established.
    case nonceExhausted
    /// A Diffie-Hellman result was all zeros: the peer sent a low-order Curve25519 point.
    case invalidDHResult
    /// A call came at the wrong time, e.g. reading when it is our turn to write, or splitting
    /// before the handshake is complete.
    case wrongState(operation: String, state: String)
    /// swift-crypto reported an error that cannot happen with valid sizes; carried for diagnosis.
    case cryptoFailure(String)

    public var description: String {
        switch self {
        case .unsupportedProtocolName(let name, let reason):
            "unsupported Noise protocol name \"\(name)\": \(reason)"
        case .missingKey(let what):
            "the handshake pattern needs the \(what), which was not supplied"
        case .badKeyLength(let what, let expected, let actual):
            "\(what) is \(actual) bytes, expected \(expected)"
        case .messageTooLong(let length, let limit):
            "Noise message of \(length) bytes exceeds the limit of \(limit) bytes"
        case .messageTooShort(let length, let minimum):
            "Noise message of \(length) bytes is shorter than the \(minimum) bytes required"
        case .decryptionFailed:
            "Noise message failed authentication"
        case .nonceExhausted:
            "Noise cipher nonce exhausted; the session must be re-established"
        case .invalidDHResult:
            "Diffie-Hellman result is all zeros (low-order public key)"
        case .wrongState(let operation, let state):
            "\(operation) is not allowed now (handshake state: \(state))"
        case .cryptoFailure(let detail):
            "unexpected crypto failure: \(detail)"
        }
    }
}
