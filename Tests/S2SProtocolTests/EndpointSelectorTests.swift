import Crypto
import Testing
@testable import S2SProtocol

/// The session preamble and the transfer token's partial-area name, against values computed
/// independently (Python's hmac and hashlib) and printed in docs/protocol.md.
struct EndpointSelectorTests {
    typealias PublicKey = Curve25519.KeyAgreement.PublicKey

    @Test func documentedVector() throws {
        let key = try PublicKey(rawRepresentation: Array(0x20...0x3F) as [UInt8])
        let selector = try EndpointSelector(endpointKey: key, nonce: Array(0xA0...0xAF))
        let expected = "7332732f31 a0a1a2a3a4a5a6a7a8a9aaabacadaeaf 697815f45243aa7c898ef52a2399c87c"
        #expect(Fixtures.hexString(selector.encoded()) == expected.filter { $0 != " " })
        #expect(selector.encoded().count == EndpointSelector.encodedLength)
        #expect(try EndpointSelector.decode(selector.encoded()) == selector)
        #expect(selector.matches(endpointKey: key))
    }

    /// The magic names the cipher: `s2s/1` ChaChaPoly, `s2s/G` AES-GCM; the tag is the same.
    @Test func magicNamesTheCipher() throws {
        let key = try PublicKey(rawRepresentation: Array(0x20...0x3F) as [UInt8])
        let chaCha = try EndpointSelector(endpointKey: key, nonce: Array(0xA0...0xAF))
        let aes = try EndpointSelector(endpointKey: key, nonce: Array(0xA0...0xAF), cipher: .aesGCM)
        #expect(Array(aes.encoded().prefix(5)) == Array("s2s/G".utf8))
        #expect(aes.encoded().dropFirst(5) == chaCha.encoded().dropFirst(5))
        #expect(try EndpointSelector.decode(aes.encoded()).cipher == .aesGCM)
        #expect(try EndpointSelector.decode(chaCha.encoded()).cipher == .chaChaPoly)
        #expect(try EndpointSelector.decode(aes.encoded()).matches(endpointKey: key))
        #expect(EndpointSelector.magic(for: .aesGCM) == Array("s2s/G".utf8))
        #expect(NoiseProtocolName.s2s(.aesGCM).description == "Noise_NK_25519_AESGCM_SHA256")
    }

    @Test func matchesOnlyItsEndpoint() throws {
        let keys = (0..<20).map { _ in Curve25519.KeyAgreement.PrivateKey().publicKey }
        let selector = try EndpointSelector(endpointKey: keys[7])
        #expect(keys.indices.filter { selector.matches(endpointKey: keys[$0]) } == [7])
        // Fresh nonces: two selectors for one endpoint differ, so sessions cannot be linked.
        #expect(try EndpointSelector(endpointKey: keys[7]).encoded() != selector.encoded())
        var tampered = selector.encoded()
        tampered[tampered.count - 1] ^= 1
        #expect(!(try EndpointSelector.decode(tampered)).matches(endpointKey: keys[7]))
        tampered = selector.encoded()
        tampered[6] ^= 1  // the nonce
        #expect(!(try EndpointSelector.decode(tampered)).matches(endpointKey: keys[7]))
    }

    @Test func malformed() throws {
        let key = Curve25519.KeyAgreement.PrivateKey().publicKey
        var bytes = try EndpointSelector(endpointKey: key).encoded()
        #expect(throws: ProtocolError.badLength(what: "session preamble", expected: 37, actual: 36)) {
            try EndpointSelector.decode(bytes.dropLast())
        }
        #expect(throws: ProtocolError.badLength(what: "session preamble", expected: 37, actual: 38)) {
            try EndpointSelector.decode(bytes + [0])
        }
        bytes[4] = UInt8(ascii: "2")
        #expect(throws: ProtocolError.badPreambleMagic) { try EndpointSelector.decode(bytes) }
        #expect(throws: ProtocolError.badLength(what: "selector nonce", expected: 16, actual: 3)) {
            try EndpointSelector(endpointKey: key, nonce: [1, 2, 3])
        }
    }

    @Test func transferToken() throws {
        #expect(Fixtures.token.partialAreaName == "634bfc4ff0bf3f01b9c32acce56bd82e")
        #expect(!Fixtures.token.description.contains("000102"))
        #expect(TransferToken.random() != TransferToken.random())
        #expect(TransferToken.random().bytes.count == 16)
        #expect(try TransferToken(bytes: Array(0..<16)) == Fixtures.token)
        #expect(throws: ProtocolError.badLength(what: "transfer token", expected: 16, actual: 15)) {
            try TransferToken(bytes: Array(0..<15))
        }
    }
}
