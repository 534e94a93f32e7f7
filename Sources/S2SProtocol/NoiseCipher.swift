import Crypto
import Foundation

/// The AEAD cipher functions of section 12 of the Noise specification, each with a 256-bit key,
/// a 96-bit nonce built from the 64-bit counter `n`, and a 16-byte tag.
///
/// The two ciphers differ in how `n` is laid out in the nonce, which is why the vectors test both.
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
    private func nonceWords(_ n: UInt64) -> (UInt32, UInt32, UInt32) {
        switch self {
        case .chaChaPoly:
            (0, UInt32(truncatingIfNeeded: n).littleEndian, UInt32(truncatingIfNeeded: n >> 32).littleEndian)
        case .aesGCM:
            (0, UInt32(truncatingIfNeeded: n >> 32).bigEndian, UInt32(truncatingIfNeeded: n).bigEndian)
        }
    }

    /// ENCRYPT(k, n, ad, plaintext): appends ciphertext ‖ tag to `output`.
    func seal(
        key: SymmetricKey,
        nonce n: UInt64,
        authenticating ad: UnsafeRawBufferPointer,
        plaintext: UnsafeRawBufferPointer,
        appendingTo output: inout [UInt8]
    ) throws(NoiseError) {
        let words = nonceWords(n)
        output.reserveCapacity(output.count + plaintext.count + Self.tagLength)
        do {
            switch self {
            case .chaChaPoly:
                let nonce = try withUnsafeBytes(of: words) { try ChaChaPoly.Nonce(data: $0) }
                let box = try ChaChaPoly.seal(plaintext, using: key, nonce: nonce, authenticating: ad)
                box.ciphertext.withUnsafeBytes { output.append(contentsOf: $0) }
                box.tag.withUnsafeBytes { output.append(contentsOf: $0) }
            case .aesGCM:
                let nonce = try withUnsafeBytes(of: words) { try AES.GCM.Nonce(data: $0) }
                let box = try AES.GCM.seal(plaintext, using: key, nonce: nonce, authenticating: ad)
                box.ciphertext.withUnsafeBytes { output.append(contentsOf: $0) }
                box.tag.withUnsafeBytes { output.append(contentsOf: $0) }
            }
        } catch {
            throw .cryptoFailure("\(rawValue) seal: \(error)")
        }
    }

    /// ENCRYPT(k, n, ad, plaintext) into `output`, which must hold `plaintext.count + tagLength`
    /// bytes: writes ciphertext ‖ tag at its start, with no intermediate array.
    func seal(
        key: SymmetricKey,
        nonce n: UInt64,
        authenticating ad: UnsafeRawBufferPointer,
        plaintext: UnsafeRawBufferPointer,
        into output: UnsafeMutableRawBufferPointer
    ) throws(NoiseError) {
        let length = plaintext.count + Self.tagLength
        guard output.count >= length else {
            throw .cryptoFailure("\(rawValue) seal: output of \(output.count) bytes for \(length)")
        }
        let words = nonceWords(n)
        do {
            switch self {
            case .chaChaPoly:
                let nonce = try withUnsafeBytes(of: words) { try ChaChaPoly.Nonce(data: $0) }
                let box = try ChaChaPoly.seal(plaintext, using: key, nonce: nonce, authenticating: ad)
                Self.copy(ciphertext: box.ciphertext, tag: box.tag, into: output)
            case .aesGCM:
                let nonce = try withUnsafeBytes(of: words) { try AES.GCM.Nonce(data: $0) }
                let box = try AES.GCM.seal(plaintext, using: key, nonce: nonce, authenticating: ad)
                Self.copy(ciphertext: box.ciphertext, tag: box.tag, into: output)
            }
        } catch {
            throw .cryptoFailure("\(rawValue) seal: \(error)")
        }
    }

    /// Copies `ciphertext` ‖ `tag` to the start of `output` (already checked to be large enough).
    private static func copy(ciphertext: Data, tag: Data, into output: UnsafeMutableRawBufferPointer) {
        let count = ciphertext.count
        ciphertext.withUnsafeBytes { output.copyMemory(from: $0) }
        tag.withUnsafeBytes { UnsafeMutableRawBufferPointer(rebasing: output[count...]).copyMemory(from: $0) }
    }

    /// DECRYPT(k, n, ad, ciphertext): verifies the trailing tag and appends the plaintext to
    /// `output`; any failure is reported as ``NoiseError/decryptionFailed``.
    func open(
        key: SymmetricKey,
        nonce n: UInt64,
        authenticating ad: UnsafeRawBufferPointer,
        ciphertext: UnsafeRawBufferPointer,
        appendingTo output: inout [UInt8]
    ) throws(NoiseError) {
        guard ciphertext.count >= Self.tagLength else {
            throw .messageTooShort(length: ciphertext.count, minimum: Self.tagLength)
        }
        // nonce ‖ ciphertext ‖ tag, built with one copy into an exactly sized buffer (the
        // nonce/ciphertext/tag initializer of the sealed boxes concatenates, growing twice).
        let words = nonceWords(n)
        let nonceLength = MemoryLayout.size(ofValue: words)
        var combined = Data(count: nonceLength + ciphertext.count)
        combined.withUnsafeMutableBytes { output in
            withUnsafeBytes(of: words) { output.copyMemory(from: $0) }
            UnsafeMutableRawBufferPointer(rebasing: output[nonceLength...]).copyMemory(from: ciphertext)
        }
        do {
            let plaintext: Data
            switch self {
            case .chaChaPoly:
                let box = try ChaChaPoly.SealedBox(combined: combined)
                plaintext = try ChaChaPoly.open(box, using: key, authenticating: ad)
            case .aesGCM:
                let box = try AES.GCM.SealedBox(combined: combined)
                plaintext = try AES.GCM.open(box, using: key, authenticating: ad)
            }
            plaintext.withUnsafeBytes { output.append(contentsOf: $0) }
        } catch {
            throw .decryptionFailed
        }
    }
}
