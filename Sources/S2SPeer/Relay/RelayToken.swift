public import Crypto
public import S2SProtocol

/// What an endpoint is called on a transit relay (docs/protocol.md, "Relay route"): the relay
/// pairs the connections that present the same token, so both sides derive it from the endpoint
/// ID, and by a one-way hash so that the relay never learns the ID (nor the key that makes it).
///
/// `token = SHA-256("s2s relay token v1" ‖ endpoint public key)`, sent as 64 lowercase hex digits,
/// the form `please relay TOKEN for side SIDE` requires.
public struct RelayToken: Sendable, Hashable, CustomStringConvertible {
    /// The label hashed in front of the key, so that the token is of no use in another protocol.
    public static let label = Array("s2s relay token v1".utf8)

    /// The 32 bytes of the hash.
    public let bytes: [UInt8]

    /// The token of the endpoint whose public key (32 bytes, the endpoint ID's content) is `publicKey`.
    public init(endpointPublicKey publicKey: [UInt8]) {
        var hash = SHA256()
        hash.update(data: Self.label)
        hash.update(data: publicKey)
        bytes = Array(hash.finalize())
    }

    /// The token under which the `index`th further connection of a striped session (docs/protocol.md,
    /// "Striped sessions") pairs at a relay: SHA-256("s2s relay stripe v1" ‖ secret ‖ index), so
    /// that only its sender and receiver, who share the session's secret, can name it.
    public init(stripe secret: StripeSecret, index: UInt8) {
        var hash = SHA256()
        hash.update(data: Array("s2s relay stripe v1".utf8))
        hash.update(data: secret.bytes)
        hash.update(data: [index])
        bytes = Array(hash.finalize())
    }

    /// The token of `key`.
    public init(endpointKey key: Curve25519.KeyAgreement.PublicKey) {
        self.init(endpointPublicKey: Array(key.rawRepresentation))
    }

    /// 64 lowercase hex digits.
    public var hex: String { RelayHex.encode(bytes) }

    public var description: String { hex }
}

/// The `side` of a relay handshake: 16 hex digits. Connections with the same token and different
/// sides are paired; the same side never is. So every receiver says ``receiver`` and every sender
/// ``sender``: two senders waiting for one endpoint are never paired with each other, and a
/// receiver's stale connection never with its own new one.
public enum RelaySide: String, Sendable, CaseIterable {
    case receiver = "7332737265637631"  // "s2srecv1" in hex
    case sender = "73327373656e6431"  // "s2ssend1" in hex
}

/// Lowercase hexadecimal, as the relay protocol writes tokens.
enum RelayHex {
    static func encode(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text: [UInt8] = []
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0f)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}
