public import Crypto
public import FoundationEssentials

/// A Noise CipherState (section 5.1): an AEAD key `k` and a 64-bit message counter `n`; after the
/// handshake, one seals every outgoing transport message and another opens every incoming one.
///
/// The key is turned into a `SymmetricKey` once, when it is set, not per message. Messages go
/// through contiguous buffers, and the `appendingTo:` variants write into a caller-owned array so
/// a framing layer can reuse one output buffer for a whole transfer.
///
/// This is a value type: a copy carries the same key *and* counter, so using two copies to encrypt
/// would reuse nonces. Keep exactly one owner per direction.
public struct CipherState: Sendable {
    /// The largest Noise message, handshake or transport, in bytes (section 3).
    public static let maxMessageLength = 65535

    public let cipher: NoiseCipher
    private var key: AEADKey?
    /// The counter for the next message; 2^64-1 is reserved and never used.
    public private(set) var nonce: UInt64 = 0

    /// A CipherState with key `key`, or without a key (messages pass through unencrypted, as the
    /// specification requires during the first handshake messages).
    public init(cipher: NoiseCipher, key: SymmetricKey?) throws(NoiseError) {
        self.cipher = cipher
        self.key = try key.map { (key) throws(NoiseError) in try AEADKey(cipher: cipher, bytes: key) }
    }

    /// A CipherState without a key, as every SymmetricState starts.
    init(cipher: NoiseCipher) {
        self.cipher = cipher
        self.key = nil
    }

    /// InitializeKey from the first 32 bytes of a HKDF output (always long enough).
    init(cipher: NoiseCipher, keyBytes: ArraySlice<UInt8>) throws(NoiseError) {
        self.cipher = cipher
        self.key = try AEADKey(cipher: cipher, bytes: keyBytes)
    }

    /// HasKey(): whether messages are encrypted.
    public var hasKey: Bool { key != nil }

    /// SetNonce(): only for tests and out-of-order transports, which s2s does not use.
    mutating func setNonce(_ nonce: UInt64) {
        self.nonce = nonce
    }

    /// The length of the ciphertext for a plaintext of `plaintextLength` bytes.
    public func ciphertextLength(forPlaintextLength plaintextLength: Int) -> Int {
        plaintextLength + (hasKey ? NoiseCipher.tagLength : 0)
    }

    /// EncryptWithAd(ad, plaintext), appending the ciphertext to `output` (which is left unchanged
    /// on error). Without a key the plaintext is appended as is.
    public mutating func encrypt(
        _ plaintext: some ContiguousBytes,
        authenticating ad: some ContiguousBytes,
        appendingTo output: inout [UInt8]
    ) throws(NoiseError) {
        let result: Result<Void, NoiseError> = plaintext.withUnsafeBytes { plaintext in
            ad.withUnsafeBytes { ad in
                Result { () throws(NoiseError) in try encrypt(plaintext, ad, &output) }
            }
        }
        try result.get()
    }

    /// EncryptWithAd with empty associated data, as transport messages use, appending to `output`.
    public mutating func encrypt(_ plaintext: some ContiguousBytes, appendingTo output: inout [UInt8])
        throws(NoiseError)
    {
        try encrypt(plaintext, authenticating: [UInt8](), appendingTo: &output)
    }

    /// EncryptWithAd(ad, plaintext), returning the ciphertext in a new array.
    public mutating func encrypt(_ plaintext: some ContiguousBytes, authenticating ad: some ContiguousBytes)
        throws(NoiseError) -> [UInt8]
    {
        var output: [UInt8] = []
        try encrypt(plaintext, authenticating: ad, appendingTo: &output)
        return output
    }

    /// EncryptWithAd with empty associated data, returning the ciphertext in a new array.
    public mutating func encrypt(_ plaintext: some ContiguousBytes) throws(NoiseError) -> [UInt8] {
        try encrypt(plaintext, authenticating: [UInt8]())
    }

    /// EncryptWithAd with empty associated data (a transport message), writing the ciphertext to
    /// the start of `output` instead of an array, so a framing layer can seal straight into its
    /// outgoing buffer. Returns the number of bytes written
    /// (``ciphertextLength(forPlaintextLength:)``); `output` must be at least that large.
    public mutating func encrypt(
        _ plaintext: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer
    ) throws(NoiseError) -> Int {
        let length = ciphertextLength(forPlaintextLength: plaintext.count)
        guard length <= Self.maxMessageLength else {
            throw .messageTooLong(length: length, limit: Self.maxMessageLength)
        }
        guard output.count >= length else {
            throw .cryptoFailure("encrypt: output of \(output.count) bytes for \(length)")
        }
        guard let key else {
            if !plaintext.isEmpty { output.copyMemory(from: plaintext) }
            return length
        }
        guard nonce != UInt64.max else { throw .nonceExhausted }
        _ = try CPUAccount.measure(.seal, bytes: plaintext.count) { () throws(NoiseError) in
            try key.seal(nonce: nonce, authenticating: UnsafeRawBufferPointer(start: nil, count: 0), plaintext: plaintext, into: output)
        }
        nonce += 1
        return length
    }

    /// DecryptWithAd(ad, ciphertext), appending the plaintext to `output` (unchanged on error). On
    /// an authentication failure the counter is not advanced, as the specification requires.
    public mutating func decrypt(
        _ ciphertext: some ContiguousBytes,
        authenticating ad: some ContiguousBytes,
        appendingTo output: inout [UInt8]
    ) throws(NoiseError) {
        output.append(contentsOf: try decrypt(ciphertext, authenticating: ad))
    }

    /// DecryptWithAd with empty associated data, as transport messages use, appending to `output`.
    public mutating func decrypt(_ ciphertext: some ContiguousBytes, appendingTo output: inout [UInt8])
        throws(NoiseError)
    {
        try decrypt(ciphertext, authenticating: [UInt8](), appendingTo: &output)
    }

    /// DecryptWithAd(ad, ciphertext), returning the plaintext in a new array (filled by the cipher,
    /// never zeroed or copied first).
    public mutating func decrypt(_ ciphertext: some ContiguousBytes, authenticating ad: some ContiguousBytes)
        throws(NoiseError) -> [UInt8]
    {
        let result: Result<[UInt8], NoiseError> = ciphertext.withUnsafeBytes { ciphertext in
            ad.withUnsafeBytes { ad in
                Result { () throws(NoiseError) in try decrypt(ciphertext, ad) }
            }
        }
        return try result.get()
    }

    /// DecryptWithAd with empty associated data, returning the plaintext in a new array.
    public mutating func decrypt(_ ciphertext: some ContiguousBytes) throws(NoiseError) -> [UInt8] {
        try decrypt(ciphertext, authenticating: [UInt8]())
    }

    /// Rekey(): replaces the key with the first 32 bytes of ENCRYPT(k, 2^64-1, empty, 32 zeros)
    /// (section 11.3). The counter is left alone.
    public mutating func rekey() throws(NoiseError) {
        guard let key else { throw .wrongState(operation: "rekey", state: "cipher has no key") }
        let zeros = [UInt8](repeating: 0, count: NoiseCipher.keyLength)
        let result: Result<AEADKey, NoiseError> = zeros.withUnsafeBytes { zeros in
            Result { () throws(NoiseError) in
                let output = try key.seal(
                    nonce: UInt64.max, authenticating: UnsafeRawBufferPointer(start: nil, count: 0), plaintext: zeros)
                return try AEADKey(cipher: cipher, bytes: output.prefix(NoiseCipher.keyLength))
            }
        }
        self.key = try result.get()
    }

    private mutating func encrypt(
        _ plaintext: UnsafeRawBufferPointer, _ ad: UnsafeRawBufferPointer, _ output: inout [UInt8]
    ) throws(NoiseError) {
        let length = ciphertextLength(forPlaintextLength: plaintext.count)
        guard length <= Self.maxMessageLength else {
            throw .messageTooLong(length: length, limit: Self.maxMessageLength)
        }
        guard let key else {
            output.append(contentsOf: plaintext)
            return
        }
        guard nonce != UInt64.max else { throw .nonceExhausted }
        output.append(contentsOf: try CPUAccount.measure(.seal, bytes: plaintext.count) { () throws(NoiseError) in try key.seal(nonce: nonce, authenticating: ad, plaintext: plaintext) })
        nonce += 1
    }

    private mutating func decrypt(_ ciphertext: UnsafeRawBufferPointer, _ ad: UnsafeRawBufferPointer) throws(NoiseError)
        -> [UInt8]
    {
        guard ciphertext.count <= Self.maxMessageLength else {
            throw .messageTooLong(length: ciphertext.count, limit: Self.maxMessageLength)
        }
        guard let key else { return Array(ciphertext) }
        guard nonce != UInt64.max else { throw .nonceExhausted }
        let plaintext = try CPUAccount.measure(.open, bytes: ciphertext.count) { () throws(NoiseError) in try key.open(nonce: nonce, authenticating: ad, ciphertext: ciphertext) }
        nonce += 1
        return plaintext
    }
}
