import FoundationEssentials
import Crypto

/// The hash functions of section 12 of the Noise specification, with the HMAC-based HKDF of
/// section 4.3 built on them.
///
/// The handshake calls these a few dozen times per connection, so plain `[UInt8]` values are used
/// rather than anything clever.
public enum NoiseHash: String, Sendable, Hashable, CaseIterable {
    case sha256 = "SHA256"
    case sha512 = "SHA512"

    /// HASHLEN: the digest length in bytes.
    public var hashLength: Int {
        switch self {
        case .sha256: SHA256.byteCount
        case .sha512: SHA512.byteCount
        }
    }

    /// HASH(a ‖ b) without building the concatenation.
    func hash(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0))
        -> [UInt8]
    {
        switch self {
        case .sha256: Self.digest(SHA256.self, a, b)
        case .sha512: Self.digest(SHA512.self, a, b)
        }
    }

    /// HKDF(chaining_key, input_key_material, num_outputs) for two or three outputs, each HASHLEN
    /// bytes, exactly as section 4.3 defines it.
    func hkdf(chainingKey: [UInt8], inputKeyMaterial: UnsafeRawBufferPointer, outputs: Int) -> [[UInt8]] {
        switch self {
        case .sha256: Self.hkdf(SHA256.self, chainingKey, inputKeyMaterial, outputs)
        case .sha512: Self.hkdf(SHA512.self, chainingKey, inputKeyMaterial, outputs)
        }
    }

    private static func digest<H: HashFunction>(
        _: H.Type, _ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer
    ) -> [UInt8] {
        var hasher = H()
        hasher.update(bufferPointer: a)
        hasher.update(bufferPointer: b)
        return hasher.finalize().withUnsafeBytes { Array($0) }
    }

    private static func hkdf<H: HashFunction>(
        _: H.Type, _ chainingKey: [UInt8], _ inputKeyMaterial: UnsafeRawBufferPointer, _ count: Int
    ) -> [[UInt8]] {
        let tempKey = SymmetricKey(
            data: HMAC<H>.authenticationCode(for: inputKeyMaterial, using: SymmetricKey(data: chainingKey)))
        var outputs: [[UInt8]] = []
        var previous: [UInt8] = []
        for index in 1...max(count, 1) {
            var hmac = HMAC<H>(key: tempKey)
            hmac.update(data: previous)
            hmac.update(data: [UInt8(truncatingIfNeeded: index)])
            previous = hmac.finalize().withUnsafeBytes { Array($0) }
            outputs.append(previous)
        }
        return outputs
    }
}
