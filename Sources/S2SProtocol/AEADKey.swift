import CBoringAEAD
import FoundationEssentials

/// A ``NoiseCipher`` with its key set up once: ENCRYPT and DECRYPT of section 5.1, from one
/// buffer straight into another.
///
/// swift-crypto's `ChaChaPoly` and `AES.GCM` allocate and copy several times per message (the
/// sealed box, its combined form, the result), which on a 64 KiB transport message costs more
/// than the cipher itself; this calls the same BoringSSL through ``CBoringAEAD`` instead.
/// Immutable after `init`, so one key may be used from any thread.
final class AEADKey: @unchecked Sendable {
    // @unchecked: the C key is never modified after s2s_aead_key_new (BoringSSL's seal and open
    // take it as const), so sharing it between threads is safe.

    let cipher: NoiseCipher
    private let key: OpaquePointer

    /// A key for `cipher` from the ``NoiseCipher/keyLength`` bytes of `bytes`.
    init(cipher: NoiseCipher, bytes: some ContiguousBytes) throws(NoiseError) {
        let algorithm: s2s_aead_algorithm =
            switch cipher {
            case .chaChaPoly: S2S_AEAD_CHACHA20_POLY1305
            case .aesGCM: S2S_AEAD_AES_256_GCM
            }
        let (length, key) = bytes.withUnsafeBytes { raw -> (Int, OpaquePointer?) in
            guard raw.count == NoiseCipher.keyLength, let base = raw.baseAddress else { return (raw.count, nil) }
            return (raw.count, s2s_aead_key_new(algorithm, base.assumingMemoryBound(to: UInt8.self), raw.count))
        }
        guard length == NoiseCipher.keyLength else {
            throw .badKeyLength("cipher key", expected: NoiseCipher.keyLength, actual: length)
        }
        guard let key else { throw .cryptoFailure("\(cipher.rawValue): cannot set up the key") }
        self.cipher = cipher
        self.key = key
    }

    deinit {
        s2s_aead_key_free(key)
    }

    /// ENCRYPT(k, n, ad, plaintext): writes ciphertext ‖ tag (`plaintext.count` + 16 bytes) to the
    /// start of `output`, which may be the plaintext's own memory. Returns the bytes written.
    func seal(
        nonce n: UInt64, authenticating ad: UnsafeRawBufferPointer, plaintext: UnsafeRawBufferPointer,
        into output: UnsafeMutableRawBufferPointer
    ) throws(NoiseError) -> Int {
        let length = plaintext.count + NoiseCipher.tagLength
        guard output.count >= length, let out = output.baseAddress else {
            throw .cryptoFailure("\(cipher.rawValue) seal: output of \(output.count) bytes for \(length)")
        }
        var written = 0
        let sealed = withUnsafeBytes(of: cipher.nonceWords(n)) { nonce in
            s2s_aead_seal(
                key, out.assumingMemoryBound(to: UInt8.self), &written, output.count,
                bytePointer(nonce), nonce.count, bytePointer(plaintext), plaintext.count, bytePointer(ad), ad.count)
        }
        guard sealed == 1, written == length else { throw .cryptoFailure("\(cipher.rawValue) seal failed") }
        return length
    }

    /// DECRYPT(k, n, ad, ciphertext): verifies the trailing tag and writes the plaintext
    /// (`ciphertext.count` - 16 bytes) to the start of `output`, which may be the ciphertext's own
    /// memory. Returns the bytes written; any failure is ``NoiseError/decryptionFailed``.
    func open(
        nonce n: UInt64, authenticating ad: UnsafeRawBufferPointer, ciphertext: UnsafeRawBufferPointer,
        into output: UnsafeMutableRawBufferPointer
    ) throws(NoiseError) -> Int {
        guard ciphertext.count >= NoiseCipher.tagLength, let input = ciphertext.baseAddress else {
            throw .messageTooShort(length: ciphertext.count, minimum: NoiseCipher.tagLength)
        }
        let length = ciphertext.count - NoiseCipher.tagLength
        guard output.count >= length else {
            throw .cryptoFailure("\(cipher.rawValue) open: output of \(output.count) bytes for \(length)")
        }
        var written = 0
        let opened = withUnsafeBytes(of: cipher.nonceWords(n)) { nonce in
            s2s_aead_open(
                key, output.baseAddress?.assumingMemoryBound(to: UInt8.self), &written, output.count,
                bytePointer(nonce), nonce.count, input.assumingMemoryBound(to: UInt8.self), ciphertext.count,
                bytePointer(ad), ad.count)
        }
        guard opened == 1, written == length else { throw .decryptionFailed }
        return length
    }

    /// ENCRYPT into a new array (handshake messages, rekey: not the transport path).
    func seal(nonce n: UInt64, authenticating ad: UnsafeRawBufferPointer, plaintext: UnsafeRawBufferPointer)
        throws(NoiseError) -> [UInt8]
    {
        try makeArray(count: plaintext.count + NoiseCipher.tagLength) { output throws(NoiseError) in
            try seal(nonce: n, authenticating: ad, plaintext: plaintext, into: output)
        }
    }

    /// DECRYPT into a new array (handshake messages: not the transport path).
    func open(nonce n: UInt64, authenticating ad: UnsafeRawBufferPointer, ciphertext: UnsafeRawBufferPointer)
        throws(NoiseError) -> [UInt8]
    {
        guard ciphertext.count >= NoiseCipher.tagLength else {
            throw .messageTooShort(length: ciphertext.count, minimum: NoiseCipher.tagLength)
        }
        return try makeArray(count: ciphertext.count - NoiseCipher.tagLength) { output throws(NoiseError) in
            try open(nonce: n, authenticating: ad, ciphertext: ciphertext, into: output)
        }
    }
}

/// A pointer to the bytes of `buffer`; nil for an empty buffer without storage, which the C
/// functions accept with a length of 0.
private func bytePointer(_ buffer: UnsafeRawBufferPointer) -> UnsafePointer<UInt8>? {
    buffer.baseAddress?.assumingMemoryBound(to: UInt8.self)
}

/// An array of exactly `count` bytes filled by `body` without zeroing it first; `body` returns
/// how many bytes it wrote, which must be `count`.
private func makeArray(count: Int, _ body: (UnsafeMutableRawBufferPointer) throws(NoiseError) -> Int) throws(NoiseError) -> [UInt8] {
    var failure: NoiseError?
    let array = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
        do throws(NoiseError) {
            initialized = try body(UnsafeMutableRawBufferPointer(buffer))
        } catch {
            failure = error
            initialized = 0
        }
    }
    if let failure { throw failure }
    return array
}

extension NoiseCipher {
    /// Whether this CPU runs AES-GCM in hardware (fast, and in constant time): then s2s prefers
    /// it, toward a receiver whose CPU does too (docs/protocol.md, "Ciphers").
    public static let hasHardwareAES = s2s_aead_has_aes_hardware() == 1
}
