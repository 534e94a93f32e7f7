public import Crypto

/// The session preamble (docs/protocol.md, "Session preamble"): the 37 bytes a sender writes
/// before handshake message 1 so that a receiver serving many endpoints on one port knows whose
/// static key to answer with, without trying each key (a Curve25519 operation per endpoint and
/// connection, which an anonymous client could make expensive).
///
/// Layout: the ASCII magic, a 16-byte random nonce, and a 16-byte tag =
/// HMAC-SHA256(key: the endpoint's 32-byte public key, message: "s2s/1 endpoint" ‖ nonce),
/// truncated to its first 16 bytes. Only someone who knows the endpoint ID can make a matching
/// tag, and with a fresh nonce per connection an observer cannot link two sessions to the same
/// endpoint. The receiver computes the tag for each of its endpoints (cheap) and closes the
/// connection without a word if none matches.
///
/// The magic names the session's cipher, which the receiver must know before handshake message 1:
/// `s2s/1` for ChaChaPoly, `s2s/G` for AES-GCM. It is the handshake's prologue, so a magic changed
/// on the way fails the handshake.
public struct EndpointSelector: Sendable, Hashable {
    /// The first bytes of a ChaChaPoly session: the prologue, so a stray client fails at once.
    public static let magic: [UInt8] = Array("s2s/1".utf8)
    /// The first bytes of an AES-GCM session.
    public static let aesGCMMagic: [UInt8] = Array("s2s/G".utf8)
    public static let nonceLength = 16
    public static let tagLength = 16
    /// magic + nonce + tag.
    public static let encodedLength = 5 + nonceLength + tagLength
    private static let label: [UInt8] = Array("s2s/1 endpoint".utf8)

    public let nonce: [UInt8]
    public let tag: [UInt8]
    /// The session's cipher, which the magic names.
    public let cipher: NoiseCipher

    /// The magic, and so the handshake's prologue, of a session with `cipher`.
    public static func magic(for cipher: NoiseCipher) -> [UInt8] {
        switch cipher {
        case .chaChaPoly: magic
        case .aesGCM: aesGCMMagic
        }
    }

    /// The selector for the endpoint whose public key (= endpoint ID) is `endpointKey`, with a fresh
    /// random nonce unless `nonce` (16 bytes) is given, for a session with `cipher`.
    public init(
        endpointKey: Curve25519.KeyAgreement.PublicKey, nonce: [UInt8]? = nil, cipher: NoiseCipher = .chaChaPoly
    ) throws(ProtocolError) {
        let nonce = nonce ?? {
            var generator = SystemRandomNumberGenerator()
            return (0..<Self.nonceLength).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        }()
        guard nonce.count == Self.nonceLength else {
            throw .badLength(what: "selector nonce", expected: Self.nonceLength, actual: nonce.count)
        }
        self.nonce = nonce
        self.tag = Self.tag(endpointKey: endpointKey, nonce: nonce)
        self.cipher = cipher
    }

    private init(nonce: [UInt8], tag: [UInt8], cipher: NoiseCipher) {
        self.nonce = nonce
        self.tag = tag
        self.cipher = cipher
    }

    public func encoded() -> [UInt8] {
        Self.magic(for: cipher) + nonce + tag
    }

    /// Parses the first ``encodedLength`` bytes a receiver reads on a new connection.
    public static func decode(_ bytes: some Collection<UInt8>) throws(ProtocolError) -> EndpointSelector {
        let bytes = Array(bytes)
        guard bytes.count == encodedLength else {
            throw .badLength(what: "session preamble", expected: encodedLength, actual: bytes.count)
        }
        let cipher: NoiseCipher
        if bytes.prefix(magic.count).elementsEqual(magic) {
            cipher = .chaChaPoly
        } else if bytes.prefix(aesGCMMagic.count).elementsEqual(aesGCMMagic) {
            cipher = .aesGCM
        } else {
            throw .badPreambleMagic
        }
        let nonceEnd = magic.count + nonceLength
        return EndpointSelector(nonce: Array(bytes[magic.count..<nonceEnd]), tag: Array(bytes[nonceEnd...]), cipher: cipher)
    }

    /// Whether this selector names the endpoint with public key `endpointKey` (constant time).
    public func matches(endpointKey: Curve25519.KeyAgreement.PublicKey) -> Bool {
        let expected = Self.tag(endpointKey: endpointKey, nonce: nonce)
        var difference: UInt8 = 0
        for (a, b) in zip(expected, tag) { difference |= a ^ b }
        return difference == 0 && tag.count == expected.count
    }

    private static func tag(endpointKey: Curve25519.KeyAgreement.PublicKey, nonce: [UInt8]) -> [UInt8] {
        var hmac = HMAC<SHA256>(key: SymmetricKey(data: endpointKey.rawRepresentation))
        hmac.update(data: label)
        hmac.update(data: nonce)
        return Array(hmac.finalize().prefix(tagLength))
    }
}
