import Crypto
import Testing
@testable import S2SProtocol

/// CipherState limits: the reserved nonce, tampering, the message size limit, and rekeying.
struct CipherStateTests {
    static func keyed(_ cipher: NoiseCipher) throws -> CipherState {
        try CipherState(cipher: cipher, key: SymmetricKey(data: [UInt8](repeating: 7, count: 32)))
    }

    @Test(arguments: NoiseCipher.allCases)
    func nonceExhaustion(_ cipher: NoiseCipher) throws {
        var sender = try Self.keyed(cipher)
        var receiver = try Self.keyed(cipher)
        sender.setNonce(UInt64.max - 1)
        receiver.setNonce(UInt64.max - 1)
        // 2^64-2 is the last usable nonce.
        let last = try sender.encrypt([1, 2, 3])
        #expect(try receiver.decrypt(last) == [1, 2, 3])
        #expect(sender.nonce == UInt64.max)
        #expect(throws: NoiseError.nonceExhausted) { try sender.encrypt([1, 2, 3]) }
        #expect(throws: NoiseError.nonceExhausted) { try receiver.decrypt(last) }
        #expect(sender.nonce == UInt64.max)
    }

    @Test(arguments: NoiseCipher.allCases)
    func tamperedCiphertextFailsAndKeepsNonce(_ cipher: NoiseCipher) throws {
        var sender = try Self.keyed(cipher)
        var receiver = try Self.keyed(cipher)
        let sealed = try sender.encrypt(Array("hello, world".utf8))
        for index in sealed.indices {
            var tampered = sealed
            tampered[index] ^= 0x01
            #expect(throws: NoiseError.decryptionFailed) { try receiver.decrypt(tampered) }
        }
        #expect(throws: NoiseError.decryptionFailed) { try receiver.decrypt(sealed.dropLast()) }
        #expect(throws: NoiseError.messageTooShort(length: 15, minimum: 16)) {
            try receiver.decrypt(sealed.prefix(15))
        }
        #expect(throws: NoiseError.decryptionFailed) {
            try receiver.decrypt(sealed, authenticating: [UInt8]([0]))
        }
        // Failures do not advance the counter: the genuine message still opens.
        #expect(receiver.nonce == 0)
        #expect(try receiver.decrypt(sealed) == Array("hello, world".utf8))
        // A replay is sealed under a spent nonce and fails.
        #expect(throws: NoiseError.decryptionFailed) { try receiver.decrypt(sealed) }
    }

    @Test(arguments: NoiseCipher.allCases)
    func messageSizeLimit(_ cipher: NoiseCipher) throws {
        var sender = try Self.keyed(cipher)
        var receiver = try Self.keyed(cipher)
        let largest = [UInt8](repeating: 0xAB, count: CipherState.maxMessageLength - NoiseCipher.tagLength)
        let sealed = try sender.encrypt(largest)
        #expect(sealed.count == 65535)
        #expect(try receiver.decrypt(sealed) == largest)
        #expect(throws: NoiseError.messageTooLong(length: 65536, limit: 65535)) {
            try sender.encrypt(largest + [0])
        }
        #expect(throws: NoiseError.messageTooLong(length: 65536, limit: 65535)) {
            try receiver.decrypt(sealed + [0])
        }
        #expect(sender.nonce == 1 && receiver.nonce == 1)
    }

    @Test func appendingKeepsExistingBytes() throws {
        var sender = try Self.keyed(.chaChaPoly)
        var receiver = try Self.keyed(.chaChaPoly)
        var wire: [UInt8] = [0xFF, 0xEE]
        try sender.encrypt([9, 8, 7], appendingTo: &wire)
        #expect(wire.count == 2 + 3 + 16 && wire.prefix(2) == [0xFF, 0xEE])
        var plain: [UInt8] = [1]
        try receiver.decrypt(wire.dropFirst(2), appendingTo: &plain)
        #expect(plain == [1, 9, 8, 7])
        // A failed call leaves the output untouched.
        #expect(throws: NoiseError.decryptionFailed) { try receiver.decrypt(wire.dropFirst(2), appendingTo: &plain) }
        #expect(plain == [1, 9, 8, 7])
    }

    @Test func withoutKeyMessagesPassThrough() throws {
        var state = try CipherState(cipher: .aesGCM, key: nil)
        #expect(!state.hasKey)
        #expect(try state.encrypt([1, 2]) == [1, 2])
        #expect(try state.decrypt([3, 4]) == [3, 4])
        #expect(state.nonce == 0)
        #expect(throws: NoiseError.wrongState(operation: "rekey", state: "cipher has no key")) { try state.rekey() }
    }

    @Test func badKeyLengthIsRejected() {
        #expect(throws: NoiseError.badKeyLength("cipher key", expected: 32, actual: 16)) {
            try CipherState(cipher: .chaChaPoly, key: SymmetricKey(size: .bits128))
        }
    }

    @Test(arguments: NoiseCipher.allCases)
    func rekeyChangesKeyOnBothSides(_ cipher: NoiseCipher) throws {
        var sender = try Self.keyed(cipher)
        var receiver = try Self.keyed(cipher)
        let before = try sender.encrypt([5])
        #expect(try receiver.decrypt(before) == [5])
        try sender.rekey()
        try receiver.rekey()
        var fresh = try Self.keyed(cipher)
        fresh.setNonce(1)
        let after = try sender.encrypt([5])
        #expect(try fresh.encrypt([5]) != after)
        #expect(try receiver.decrypt(after) == [5])
    }

    /// ChaChaPoly puts the counter little-endian into the nonce, AESGCM big-endian: sealing under
    /// counter 1 must match sealing directly with the nonce laid out that way.
    @Test(arguments: NoiseCipher.allCases)
    func nonceLayout(_ cipher: NoiseCipher) throws {
        let key = SymmetricKey(data: [UInt8](repeating: 7, count: 32))
        var state = try CipherState(cipher: cipher, key: key)
        state.setNonce(1)
        let sealed = try state.encrypt([0x42])
        let direct: [UInt8]
        switch cipher {
        case .chaChaPoly:
            let nonce = try ChaChaPoly.Nonce(data: [0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0])
            let box = try ChaChaPoly.seal([0x42], using: key, nonce: nonce)
            direct = Array(box.ciphertext) + Array(box.tag)
        case .aesGCM:
            let nonce = try AES.GCM.Nonce(data: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1])
            let box = try AES.GCM.seal([0x42], using: key, nonce: nonce)
            direct = Array(box.ciphertext) + Array(box.tag)
        }
        #expect(sealed == direct)
    }

    /// Sealing into a caller's buffer gives the same messages, with the same nonces, as appending
    /// to an array; a buffer that is too small is refused without using a nonce.
    @Test(arguments: NoiseCipher.allCases)
    func encryptIntoBufferMatchesAppending(_ cipher: NoiseCipher) throws {
        var appending = try Self.keyed(cipher)
        var direct = try Self.keyed(cipher)
        var receiver = try Self.keyed(cipher)
        for length in [1, 13, 1000, 65519] {
            let plaintext = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31) }
            let expected = try appending.encrypt(plaintext)
            var output = [UInt8](repeating: 0xee, count: expected.count + 3)
            let written = try plaintext.withUnsafeBytes { plaintext in
                try output.withUnsafeMutableBytes { output throws(NoiseError) in
                    try direct.encrypt(plaintext, into: output)
                }
            }
            #expect(written == expected.count)
            #expect(Array(output.prefix(written)) == expected)
            #expect(output.suffix(3) == [0xee, 0xee, 0xee])
            #expect(try receiver.decrypt(output.prefix(written)) == plaintext)
        }
        var small = [UInt8](repeating: 0, count: 16)
        #expect(throws: NoiseError.self) {
            try [UInt8](repeating: 1, count: 1).withUnsafeBytes { plaintext in
                try small.withUnsafeMutableBytes { output throws(NoiseError) in
                    try direct.encrypt(plaintext, into: output)
                }
            }
        }
        #expect(direct.nonce == appending.nonce)
    }
}
