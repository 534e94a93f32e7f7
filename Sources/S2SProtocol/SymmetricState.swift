/// A Noise SymmetricState (section 5.2): the chaining key `ck` and handshake hash `h` that absorb
/// every key and DH result of the handshake, plus the CipherState that encrypts handshake payloads.
///
/// Internal: only ``HandshakeState`` drives it, so its operations cannot be called out of order.
struct SymmetricState: Sendable {
    let hash: NoiseHash
    private(set) var cipherState: CipherState
    private(set) var chainingKey: [UInt8]
    private(set) var handshakeHash: [UInt8]

    /// InitializeSymmetric(protocol_name): `h` is the name zero-padded to HASHLEN if it fits, else
    /// HASH(name); `ck` = `h`; no cipher key yet.
    init(protocolName: NoiseProtocolName) {
        let name = Array(protocolName.description.utf8)
        let hash = protocolName.hash
        var h: [UInt8]
        if name.count <= hash.hashLength {
            h = name + [UInt8](repeating: 0, count: hash.hashLength - name.count)
        } else {
            h = name.withUnsafeBytes { hash.hash($0) }
        }
        self.hash = hash
        self.handshakeHash = h
        self.chainingKey = h
        // A CipherState without a key cannot fail to initialise.
        self.cipherState = CipherState(cipher: protocolName.cipher)
    }

    /// MixKey(ikm): ck, temp_k = HKDF(ck, ikm, 2); the cipher key is temp_k cut to 32 bytes.
    mutating func mixKey(_ inputKeyMaterial: UnsafeRawBufferPointer) throws(NoiseError) {
        let outputs = hash.hkdf(chainingKey: chainingKey, inputKeyMaterial: inputKeyMaterial, outputs: 2)
        chainingKey = outputs[0]
        cipherState = try CipherState(cipher: cipherState.cipher, keyBytes: outputs[1].prefix(NoiseCipher.keyLength))
    }

    /// MixHash(data): h = HASH(h ‖ data).
    mutating func mixHash(_ data: UnsafeRawBufferPointer) {
        handshakeHash = handshakeHash.withUnsafeBytes { hash.hash($0, data) }
    }

    /// MixHash over an array slice.
    mutating func mixHash(_ data: ArraySlice<UInt8>) {
        data.withUnsafeBytes { mixHash($0) }
    }

    /// MixKeyAndHash(ikm), for PSK patterns: ck, temp_h, temp_k = HKDF(ck, ikm, 3).
    mutating func mixKeyAndHash(_ inputKeyMaterial: UnsafeRawBufferPointer) throws(NoiseError) {
        let outputs = hash.hkdf(chainingKey: chainingKey, inputKeyMaterial: inputKeyMaterial, outputs: 3)
        chainingKey = outputs[0]
        outputs[1].withUnsafeBytes { mixHash($0) }
        cipherState = try CipherState(cipher: cipherState.cipher, keyBytes: outputs[2].prefix(NoiseCipher.keyLength))
    }

    /// EncryptAndHash(plaintext): appends EncryptWithAd(h, plaintext) to `output`, then mixes that
    /// ciphertext into `h`.
    mutating func encryptAndHash(_ plaintext: [UInt8], appendingTo output: inout [UInt8]) throws(NoiseError) {
        let start = output.count
        try cipherState.encrypt(plaintext, authenticating: handshakeHash, appendingTo: &output)
        mixHash(output[start...])
    }

    /// DecryptAndHash(ciphertext): returns DecryptWithAd(h, ciphertext), then mixes the ciphertext
    /// into `h`.
    mutating func decryptAndHash(_ ciphertext: ArraySlice<UInt8>) throws(NoiseError) -> [UInt8] {
        let plaintext = try cipherState.decrypt(ciphertext, authenticating: handshakeHash)
        mixHash(ciphertext)
        return plaintext
    }

    /// Split(): the two transport CipherStates, initiator-to-responder first; Split() exactly
    /// with no `inputKeyMaterial`. With some, `HKDF(ck, inputKeyMaterial, 2)` instead of
    /// `HKDF(ck, zerolen, 2)`: keys for `cipher` independent of those Split() gives (s2s's AES-GCM
    /// transport after a ChaChaPoly handshake, docs/protocol.md "Ciphers").
    func split(inputKeyMaterial: [UInt8] = [], cipher: NoiseCipher? = nil) throws(NoiseError) -> (CipherState, CipherState) {
        let outputs = inputKeyMaterial.withUnsafeBytes {
            hash.hkdf(chainingKey: chainingKey, inputKeyMaterial: $0, outputs: 2)
        }
        let cipher = cipher ?? cipherState.cipher
        return (
            try CipherState(cipher: cipher, keyBytes: outputs[0].prefix(NoiseCipher.keyLength)),
            try CipherState(cipher: cipher, keyBytes: outputs[1].prefix(NoiseCipher.keyLength))
        )
    }
}
