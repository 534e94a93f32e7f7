/// A full Noise protocol name such as `Noise_NK_25519_ChaChaPoly_SHA256`, split into the pattern,
/// cipher and hash it selects (the DH function is always Curve25519 here).
///
/// The exact name string is hashed into the handshake, so both sides must agree on it byte for
/// byte; ``description`` reproduces the canonical spelling.
public struct NoiseProtocolName: Sendable, Hashable, CustomStringConvertible {
    public var pattern: NoisePattern
    public var cipher: NoiseCipher
    public var hash: NoiseHash

    /// The s2s peer protocol (DESIGN.md, decision 4).
    public static let s2s = NoiseProtocolName(pattern: .nk, cipher: .chaChaPoly, hash: .sha256)

    /// The s2s peer protocol with `cipher`, which the session preamble announces.
    public static func s2s(_ cipher: NoiseCipher) -> NoiseProtocolName {
        NoiseProtocolName(pattern: .nk, cipher: cipher, hash: .sha256)
    }

    public init(pattern: NoisePattern, cipher: NoiseCipher, hash: NoiseHash) {
        self.pattern = pattern
        self.cipher = cipher
        self.hash = hash
    }

    /// Parses `Noise_<pattern>_25519_<cipher>_<hash>`; pattern modifiers (`psk0`, `fallback`, ...)
    /// and other DH functions, ciphers or hashes are refused.
    public init(_ name: String) throws(NoiseError) {
        let parts = name.split(separator: "_", omittingEmptySubsequences: false)
        guard parts.count == 5, parts[0] == "Noise" else {
            throw .unsupportedProtocolName(name, reason: "expected Noise_PATTERN_DH_CIPHER_HASH")
        }
        guard let pattern = NoisePattern(rawValue: String(parts[1])) else {
            throw .unsupportedProtocolName(name, reason: "handshake pattern \"\(parts[1])\" is not supported")
        }
        guard parts[2] == "25519" else {
            throw .unsupportedProtocolName(name, reason: "DH function \"\(parts[2])\" is not supported")
        }
        guard let cipher = NoiseCipher(rawValue: String(parts[3])) else {
            throw .unsupportedProtocolName(name, reason: "cipher \"\(parts[3])\" is not supported")
        }
        guard let hash = NoiseHash(rawValue: String(parts[4])) else {
            throw .unsupportedProtocolName(name, reason: "hash \"\(parts[4])\" is not supported")
        }
        self.init(pattern: pattern, cipher: cipher, hash: hash)
    }

    public var description: String {
        "Noise_\(pattern.rawValue)_25519_\(cipher.rawValue)_\(hash.rawValue)"
    }
}
