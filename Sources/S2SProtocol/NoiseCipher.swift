/// The AEAD cipher functions of section 12 of the Noise specification, each with a 256-bit key,
/// a 96-bit nonce built from the 64-bit counter `n`, and a 16-byte tag.
///
/// The two ciphers differ in how `n` is laid out in the nonce, which is why the vectors test both.
/// The work itself is done by ``AEADKey``.
public enum NoiseCipher: String, Sendable, Hashable, CaseIterable {
    /// ChaCha20-Poly1305 (RFC 8439); nonce = 4 zero bytes ‖ `n` little-endian.
    case chaChaPoly = "ChaChaPoly"
    /// AES-256-GCM; nonce = 4 zero bytes ‖ `n` big-endian.
    case aesGCM = "AESGCM"

    /// Key length in bytes.
    public static let keyLength = 32
    /// Authentication tag length in bytes.
    public static let tagLength = 16

    /// The 12-byte nonce for counter `n`, as three 32-bit words so it lives on the stack.
    func nonceWords(_ n: UInt64) -> (UInt32, UInt32, UInt32) {
        switch self {
        case .chaChaPoly:
            (0, UInt32(truncatingIfNeeded: n).littleEndian, UInt32(truncatingIfNeeded: n >> 32).littleEndian)
        case .aesGCM:
            (0, UInt32(truncatingIfNeeded: n >> 32).bigEndian, UInt32(truncatingIfNeeded: n).bigEndian)
        }
    }
}
