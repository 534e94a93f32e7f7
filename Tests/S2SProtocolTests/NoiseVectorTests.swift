import Crypto
import Foundation
import Testing
import S2SProtocol

/// Replays the published cacophony vectors (Vectors/, copied from the team's shared/vectors) byte
/// for byte: every handshake and transport message is produced by one side, compared with the
/// vector, and read back by the other.
struct NoiseVectorTests {
    /// One vector of `noise-cacophony-25519.json`; keys and messages are hex strings.
    struct Vector: Decodable {
        struct Message: Decodable {
            let payload: String
            let ciphertext: String
        }

        let protocol_name: String
        let init_prologue: String
        let init_ephemeral: String
        let init_static: String?
        let init_remote_static: String?
        let init_psks: [String]?
        let resp_prologue: String
        let resp_ephemeral: String?
        let resp_static: String?
        let resp_remote_static: String?
        let resp_psks: [String]?
        let handshake_hash: String?
        let messages: [Message]
    }

    struct VectorFile: Decodable {
        let vectors: [Vector]
    }

    static let vectorsURL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // Tests/S2SProtocolTests
        .appendingPathComponent("Vectors/noise-cacophony-25519.json")

    /// Four vectors (two ciphers x two hashes) for each of the five patterns.
    static let expectedPerPattern = 4

    @Test func cacophonyVectorsReplay() throws {
        let data: Data
        do {
            data = try Data(contentsOf: Self.vectorsURL)
        } catch {
            Issue.record("cannot read the Noise test vectors at \(Self.vectorsURL.path): \(error)")
            return
        }
        let file = try JSONDecoder().decode(VectorFile.self, from: data)

        var replayed: [NoisePattern: Int] = [:]
        var suites: Set<String> = []
        for vector in file.vectors {
            // Only plain patterns; a name this module does not support (PSK modifiers, one-way and
            // other patterns) is skipped.
            guard vector.init_psks == nil, vector.resp_psks == nil,
                let name = try? NoiseProtocolName(vector.protocol_name)
            else { continue }
            #expect(name.description == vector.protocol_name)
            do {
                try replay(vector, name)
            } catch {
                Issue.record("\(vector.protocol_name): \(error)")
            }
            replayed[name.pattern, default: 0] += 1
            suites.insert("\(name.cipher.rawValue)_\(name.hash.rawValue)")
        }
        for pattern in NoisePattern.allCases {
            #expect(replayed[pattern] == Self.expectedPerPattern, "vectors replayed for \(pattern.rawValue)")
        }
        #expect(replayed.values.reduce(0, +) == NoisePattern.allCases.count * Self.expectedPerPattern)
        #expect(suites == ["ChaChaPoly_SHA256", "ChaChaPoly_SHA512", "AESGCM_SHA256", "AESGCM_SHA512"])
    }

    private func replay(_ vector: Vector, _ name: NoiseProtocolName) throws {
        let label = Comment(rawValue: vector.protocol_name)
        let responderEphemeral = try #require(vector.resp_ephemeral, label)
        var initiator = try HandshakeState(
            protocolName: name, role: .initiator,
            prologue: try hex(vector.init_prologue),
            staticKey: try vector.init_static.map(privateKey),
            remoteStaticKey: try vector.init_remote_static.map(publicKey),
            ephemeralKey: try privateKey(vector.init_ephemeral))
        var responder = try HandshakeState(
            protocolName: name, role: .responder,
            prologue: try hex(vector.resp_prologue),
            staticKey: try vector.resp_static.map(privateKey),
            remoteStaticKey: try vector.resp_remote_static.map(publicKey),
            ephemeralKey: try privateKey(responderEphemeral))

        let handshakeCount = name.pattern.messages.count
        try #require(vector.messages.count > handshakeCount, label)
        for (index, message) in vector.messages.prefix(handshakeCount).enumerated() {
            let payload = try hex(message.payload)
            let expected = try hex(message.ciphertext)
            let fromInitiator = index % 2 == 0
            let written =
                fromInitiator
                ? try initiator.writeMessage(payload: payload) : try responder.writeMessage(payload: payload)
            #expect(written == expected, "\(label) handshake message \(index)")
            // Read the published bytes, not our own, so the read side is tested independently.
            let read = fromInitiator ? try responder.readMessage(expected) : try initiator.readMessage(expected)
            #expect(read == payload, "\(label) handshake message \(index) payload")
        }
        #expect(initiator.isHandshakeComplete && responder.isHandshakeComplete, label)
        #expect(initiator.handshakeHash == responder.handshakeHash, label)
        if let hash = vector.handshake_hash {
            #expect(initiator.handshakeHash == (try hex(hash)), "\(label) handshake hash")
        }
        // The static keys each side learned or was given match the other side's.
        let responderStatic = try vector.resp_static.map(privateKey)?.publicKey.rawRepresentation
        #expect(initiator.remoteStaticKey?.rawRepresentation == responderStatic, label)
        let initiatorStatic = try vector.init_static.map(privateKey)?.publicKey.rawRepresentation
        #expect(responder.remoteStaticKey?.rawRepresentation == initiatorStatic, label)

        var (initiatorSend, initiatorReceive) = try initiator.split()
        var (responderSend, responderReceive) = try responder.split()
        // Transport messages keep alternating direction where the handshake left off.
        for (index, message) in vector.messages.enumerated().dropFirst(handshakeCount) {
            let payload = try hex(message.payload)
            let expected = try hex(message.ciphertext)
            if index % 2 == 0 {
                #expect(try initiatorSend.encrypt(payload) == expected, "\(label) transport message \(index)")
                #expect(try responderReceive.decrypt(expected) == payload, "\(label) transport message \(index)")
            } else {
                #expect(try responderSend.encrypt(payload) == expected, "\(label) transport message \(index)")
                #expect(try initiatorReceive.decrypt(expected) == payload, "\(label) transport message \(index)")
            }
        }
    }
}

struct HexError: Error, CustomStringConvertible {
    let text: String
    var description: String { "invalid hex string \"\(text)\"" }
}

func hex(_ text: String) throws -> [UInt8] {
    let digits = Array(text.utf8)
    guard digits.count % 2 == 0 else { throw HexError(text: text) }
    var bytes: [UInt8] = []
    bytes.reserveCapacity(digits.count / 2)
    for index in stride(from: 0, to: digits.count, by: 2) {
        guard let high = hexValue(digits[index]), let low = hexValue(digits[index + 1]) else {
            throw HexError(text: text)
        }
        bytes.append(high << 4 | low)
    }
    return bytes
}

private func hexValue(_ digit: UInt8) -> UInt8? {
    switch digit {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
    default: nil
    }
}

func privateKey(_ text: String) throws -> Curve25519.KeyAgreement.PrivateKey {
    try Curve25519.KeyAgreement.PrivateKey(rawRepresentation: hex(text))
}

func publicKey(_ text: String) throws -> Curve25519.KeyAgreement.PublicKey {
    try Curve25519.KeyAgreement.PublicKey(rawRepresentation: hex(text))
}
