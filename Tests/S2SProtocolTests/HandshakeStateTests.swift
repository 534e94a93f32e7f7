import Crypto
import Testing
@testable import S2SProtocol

/// HandshakeState behaviour the vectors cannot show: call order, missing keys, size limits,
/// tampering, low-order points, and fresh random ephemerals.
struct HandshakeStateTests {
    typealias PrivateKey = Curve25519.KeyAgreement.PrivateKey

    struct Pair {
        var initiator: HandshakeState
        var responder: HandshakeState
    }

    /// An s2s (NK) initiator and responder with fresh keys.
    static func nkPair(prologue: [UInt8] = Array("s2s/1".utf8)) throws -> Pair {
        let responderStatic = PrivateKey()
        return Pair(
            initiator: try HandshakeState(
                protocolName: .s2s, role: .initiator, prologue: prologue, remoteStaticKey: responderStatic.publicKey),
            responder: try HandshakeState(
                protocolName: .s2s, role: .responder, prologue: prologue, staticKey: responderStatic))
    }

    @Test func protocolNames() throws {
        let name = try NoiseProtocolName("Noise_XX_25519_AESGCM_SHA512")
        #expect(name == NoiseProtocolName(pattern: .xx, cipher: .aesGCM, hash: .sha512))
        #expect(name.description == "Noise_XX_25519_AESGCM_SHA512")
        #expect(NoiseProtocolName.s2s.description == "Noise_NK_25519_ChaChaPoly_SHA256")
        for bad in [
            "", "Noise", "Noise_NK_25519_ChaChaPoly", "Noise_NK_25519_ChaChaPoly_SHA256_",
            "noise_NK_25519_ChaChaPoly_SHA256", "Noise_NKpsk0_25519_ChaChaPoly_SHA256",
            "Noise_N_25519_ChaChaPoly_SHA256", "Noise_NK_448_ChaChaPoly_SHA256", "Noise_NK_25519_AESGCM_BLAKE2s",
            "Noise_NK_25519_AES_SHA256", "Noise_nk_25519_ChaChaPoly_SHA256",
        ] {
            #expect(throws: NoiseError.self, "\(bad)") { try NoiseProtocolName(bad) }
        }
    }

    @Test(arguments: NoisePattern.allCases, [NoiseCipher.chaChaPoly, .aesGCM])
    func freshKeysRoundTrip(_ pattern: NoisePattern, _ cipher: NoiseCipher) throws {
        let name = NoiseProtocolName(pattern: pattern, cipher: cipher, hash: .sha256)
        let initiatorStatic = PrivateKey()
        let responderStatic = PrivateKey()
        let needsInitiatorStatic = pattern == .xk || pattern == .ik || pattern == .xx
        let knowsResponder = pattern == .nk || pattern == .xk || pattern == .ik
        var initiator = try HandshakeState(
            protocolName: name, role: .initiator, prologue: [1, 2, 3],
            staticKey: needsInitiatorStatic ? initiatorStatic : nil,
            remoteStaticKey: knowsResponder ? responderStatic.publicKey : nil)
        var responder = try HandshakeState(
            protocolName: name, role: .responder, prologue: [1, 2, 3],
            staticKey: pattern == .nn ? nil : responderStatic)
        var index = 0
        while initiator.nextStep != .split {
            let payload = [UInt8](repeating: UInt8(index), count: index * 10)
            if initiator.nextStep == .writeMessage {
                #expect(responder.nextStep == .readMessage)
                #expect(try responder.readMessage(try initiator.writeMessage(payload: payload)) == payload)
            } else {
                #expect(try initiator.readMessage(try responder.writeMessage(payload: payload)) == payload)
            }
            index += 1
        }
        #expect(index == pattern.messages.count)
        #expect(responder.nextStep == .split)
        #expect(initiator.handshakeHash == responder.handshakeHash)
        if needsInitiatorStatic {
            #expect(responder.remoteStaticKey?.rawRepresentation == initiatorStatic.publicKey.rawRepresentation)
        }
        if pattern != .nn {
            #expect(initiator.remoteStaticKey?.rawRepresentation == responderStatic.publicKey.rawRepresentation)
        }
        var (initiatorSend, initiatorReceive) = try initiator.split()
        var (responderSend, responderReceive) = try responder.split()
        #expect(try responderReceive.decrypt(try initiatorSend.encrypt([1])) == [1])
        #expect(try initiatorReceive.decrypt(try responderSend.encrypt([2])) == [2])
        #expect(initiator.nextStep == .finished)
    }

    /// After a ChaChaPoly handshake, both sides asking for AES-GCM transport keys get AES-GCM
    /// CipherStates that work together and share nothing with Split()'s own keys; asking for the
    /// handshake's own cipher is Split().
    @Test func aesGCMTransportKeysAfterAChaChaPolyHandshake() throws {
        var pair = try Self.nkPair()
        #expect(try pair.responder.readMessage(try pair.initiator.writeMessage(payload: [1])) == [1])
        #expect(try pair.initiator.readMessage(try pair.responder.writeMessage(payload: [2])) == [2])
        var (plainInitiator, plainResponder) = (pair.initiator, pair.responder)
        var (sameInitiator, _) = (pair.initiator, pair.responder)

        var (initiatorSend, initiatorReceive) = try pair.initiator.split(transportCipher: .aesGCM)
        var (responderSend, responderReceive) = try pair.responder.split(transportCipher: .aesGCM)
        #expect(initiatorSend.cipher == .aesGCM && responderReceive.cipher == .aesGCM)
        let sealed = try initiatorSend.encrypt([3, 4, 5])
        #expect(try responderReceive.decrypt(sealed) == [3, 4, 5])
        #expect(try initiatorReceive.decrypt(try responderSend.encrypt([6])) == [6])

        // Split()'s ChaChaPoly keys open nothing of it; asking for ChaChaPoly is Split() itself.
        var (_, plainReceive) = try plainResponder.split()
        #expect(throws: NoiseError.self) { try plainReceive.decrypt(sealed) }
        let (plainSend, _) = try plainInitiator.split()
        var (sameSend, _) = try sameInitiator.split(transportCipher: .chaChaPoly)
        var plainSendCopy = plainSend
        #expect(try sameSend.encrypt([7]) == plainSendCopy.encrypt([7]))
    }

    @Test func wrongOrderCallsAreRejected() throws {
        var pair = try Self.nkPair()
        #expect(pair.initiator.nextStep == .writeMessage)
        #expect(pair.responder.nextStep == .readMessage)
        #expect(throws: NoiseError.wrongState(operation: "readMessage", state: "writeMessage")) {
            try pair.initiator.readMessage([UInt8](repeating: 0, count: 48))
        }
        #expect(throws: NoiseError.wrongState(operation: "writeMessage", state: "readMessage")) {
            try pair.responder.writeMessage()
        }
        #expect(throws: NoiseError.wrongState(operation: "split", state: "writeMessage")) {
            try pair.initiator.split()
        }
        // Rejected calls change nothing: the handshake still completes.
        let first = try pair.initiator.writeMessage()
        #expect(throws: NoiseError.wrongState(operation: "writeMessage", state: "readMessage")) {
            try pair.initiator.writeMessage()
        }
        _ = try pair.responder.readMessage(first)
        _ = try pair.initiator.readMessage(try pair.responder.writeMessage())
        #expect(pair.initiator.isHandshakeComplete && pair.responder.isHandshakeComplete)
        #expect(throws: NoiseError.wrongState(operation: "writeMessage", state: "split")) {
            try pair.initiator.writeMessage()
        }
        #expect(throws: NoiseError.wrongState(operation: "readMessage", state: "split")) {
            try pair.responder.readMessage(first)
        }
        _ = try pair.initiator.split()
        #expect(throws: NoiseError.wrongState(operation: "split", state: "finished")) {
            try pair.initiator.split()
        }
    }

    @Test func missingKeysAreRejected() {
        #expect(throws: NoiseError.missingKey("remote static public key (rs)")) {
            try HandshakeState(protocolName: .s2s, role: .initiator)
        }
        #expect(throws: NoiseError.missingKey("local static key (s)")) {
            try HandshakeState(protocolName: .s2s, role: .responder)
        }
        #expect(throws: NoiseError.missingKey("local static key (s)")) {
            try HandshakeState(
                protocolName: try NoiseProtocolName("Noise_XX_25519_ChaChaPoly_SHA256"), role: .initiator)
        }
    }

    @Test func oversizedMessagesAreRejected() throws {
        var pair = try Self.nkPair()
        // NK message 1 is e (32) + payload + tag (16).
        let limit = CipherState.maxMessageLength - 32 - 16
        #expect(throws: NoiseError.messageTooLong(length: 65536, limit: 65535)) {
            try pair.initiator.writeMessage(payload: [UInt8](repeating: 0, count: limit + 1))
        }
        // Refusing the payload did not spoil the handshake.
        #expect(pair.initiator.nextStep == .writeMessage)
        let first = try pair.initiator.writeMessage(payload: [UInt8](repeating: 1, count: limit))
        #expect(first.count == 65535)
        #expect(throws: NoiseError.messageTooLong(length: 65536, limit: 65535)) {
            try pair.responder.readMessage(first + [0])
        }
        #expect(pair.responder.nextStep == .failed)
    }

    @Test func truncatedAndTamperedMessagesFailTheHandshake() throws {
        var pair = try Self.nkPair()
        let first = try pair.initiator.writeMessage(payload: [1, 2, 3])
        #expect(throws: NoiseError.messageTooShort(length: 47, minimum: 48)) {
            try pair.responder.readMessage(Array(first.prefix(47)))
        }
        #expect(pair.responder.nextStep == .failed)
        #expect(throws: NoiseError.wrongState(operation: "readMessage", state: "failed")) {
            try pair.responder.readMessage(first)
        }

        for index in first.indices {
            var fresh = try Self.nkPair()
            var tampered = try fresh.initiator.writeMessage(payload: [1, 2, 3])
            tampered[index] ^= 0x80
            #expect(throws: NoiseError.self) { try fresh.responder.readMessage(tampered) }
        }
    }

    @Test func prologueMismatchFails() throws {
        let responderStatic = PrivateKey()
        var initiator = try HandshakeState(
            protocolName: .s2s, role: .initiator, prologue: Array("s2s/1".utf8),
            remoteStaticKey: responderStatic.publicKey)
        var responder = try HandshakeState(
            protocolName: .s2s, role: .responder, prologue: Array("s2s/2".utf8), staticKey: responderStatic)
        #expect(throws: NoiseError.decryptionFailed) { try responder.readMessage(try initiator.writeMessage()) }
    }

    @Test func wrongResponderKeyFails() throws {
        var initiator = try HandshakeState(
            protocolName: .s2s, role: .initiator, remoteStaticKey: PrivateKey().publicKey)
        var responder = try HandshakeState(protocolName: .s2s, role: .responder, staticKey: PrivateKey())
        #expect(throws: NoiseError.decryptionFailed) { try responder.readMessage(try initiator.writeMessage()) }
    }

    @Test func lowOrderEphemeralIsRejected() throws {
        var pair = try Self.nkPair()
        // The all-zero point has order 1: any DH with it is zero.
        var message = try pair.initiator.writeMessage()
        message.replaceSubrange(0..<32, with: [UInt8](repeating: 0, count: 32))
        #expect(throws: NoiseError.invalidDHResult) { try pair.responder.readMessage(message) }
        #expect(pair.responder.nextStep == .failed)
    }

    @Test func handshakeHashIsPaddedOrHashedName() throws {
        // A name no longer than HASHLEN is zero-padded (section 5.2).
        let short = SymmetricState(protocolName: .s2s)
        let name = Array("Noise_NK_25519_ChaChaPoly_SHA256".utf8)
        #expect(name.count == 32)
        #expect(short.handshakeHash == name)
        let long = SymmetricState(protocolName: NoiseProtocolName(pattern: .nk, cipher: .chaChaPoly, hash: .sha512))
        #expect(long.handshakeHash == Array("Noise_NK_25519_ChaChaPoly_SHA512".utf8) + [UInt8](repeating: 0, count: 32))
        #expect(long.chainingKey == long.handshakeHash)
    }
}
