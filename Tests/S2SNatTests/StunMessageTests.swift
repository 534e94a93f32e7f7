import Testing
@testable import S2SNat

/// The STUN codec against RFC 5769's test vectors, and against the malformed and the hostile.
struct StunMessageTests {
    static func bytes(_ hex: String) -> [UInt8] {
        let digits = hex.filter(\.isHexDigit)
        return stride(from: 0, to: digits.count, by: 2).map {
            let start = digits.index(digits.startIndex, offsetBy: $0)
            return UInt8(digits[start..<digits.index(start, offsetBy: 2)], radix: 16) ?? 0
        }
    }

    static let transactionID = bytes("b7e7a701 bc34d686 fa87dfae")

    /// RFC 5769 section 2.1: a request with SOFTWARE, ICE attributes, USERNAME,
    /// MESSAGE-INTEGRITY and FINGERPRINT.
    static let sampleRequest = bytes("""
        00010058 2112a442 b7e7a701 bc34d686 fa87dfae
        80220010 5354554e 20746573 7420636c 69656e74
        00240004 6e0001ff
        80290008 932ff9b1 51263b36
        00060009 6576746a 3a683676 59202020
        00080014 9aeaa70c bfd8cb56 781ef2b5 b2d3f249 c1b571a2
        80280004 e57a3bcf
        """)

    /// RFC 5769 section 2.2: a success response with an IPv4 XOR-MAPPED-ADDRESS.
    static let sampleIPv4Response = bytes("""
        0101003c 2112a442 b7e7a701 bc34d686 fa87dfae
        8022000b 74657374 20766563 746f7220
        00200008 0001a147 e112a643
        00080014 2b91f599 fd9e90c3 8c7489f9 2af9ba53 f06be7d7
        80280004 c07d4c96
        """)

    /// RFC 5769 section 2.3: the same with an IPv6 address.
    static let sampleIPv6Response = bytes("""
        01010048 2112a442 b7e7a701 bc34d686 fa87dfae
        8022000b 74657374 20766563 746f7220
        00200014 0002a147 0113a9fa a5d3f179 bc25f4b5 bed2b9d9
        00080014 a382954e 4be67bf1 1784c97c 8292c275 bfe3ed41
        80280004 c8fb0b4c
        """)

    @Test func theSampleRequestDecodesAndItsFingerprintHolds() throws {
        let message = try StunMessage(decoding: Self.sampleRequest)
        #expect(message.type == StunMessage.MessageType.bindingRequest)
        #expect(message.transactionID == Self.transactionID)
        #expect(message.attributes.map(\.type) == [0x8022, 0x0024, 0x8029, 0x0006, 0x0008, 0x8028])
        #expect(message.attribute(0x0006) == Array("evtj:h6vY".utf8))
        #expect(message.attribute(StunMessage.AttributeType.software) == Array("STUN test client".utf8))
    }

    @Test func theSampleResponsesGiveTheirMappedAddresses() throws {
        let v4 = try StunMessage(decoding: Self.sampleIPv4Response)
        #expect(v4.type == StunMessage.MessageType.bindingSuccess)
        #expect(try v4.mappedAddress()?.description == "192.0.2.1:32853")
        #expect(v4.attribute(StunMessage.AttributeType.software) == Array("test vector".utf8))
        let v6 = try StunMessage(decoding: Self.sampleIPv6Response)
        #expect(try v6.mappedAddress()?.description == "[2001:db8:1234:5678:11:2233:4455:6677]:32853")
    }

    /// The decoder's FINGERPRINT check holds on the vectors, so a round trip checks the encoder's.
    @Test func aBindingRequestRoundTrips() throws {
        let request = StunMessage.bindingRequest()
        let bytes = request.encoded()
        #expect(bytes.count == 28)
        #expect(StunMessage.messageSize(header: bytes) == 28)
        let decoded = try StunMessage(decoding: bytes)
        #expect(decoded.transactionID == request.transactionID && decoded.type == StunMessage.MessageType.bindingRequest)
        #expect(StunMessage.bindingRequest().transactionID != request.transactionID)
    }

    @Test func malformedMessagesAreRefusedWithAReason() {
        var response = Self.sampleIPv4Response
        let cases: [(String, [UInt8])] = [
            ("short", Array(response.prefix(19))),
            ("first bits", [0xC1] + response.dropFirst()),
            ("no cookie", Array(response.prefix(4)) + [0, 0, 0, 0] + response.dropFirst(8)),
            ("length not a multiple of 4", Array(response.prefix(2)) + [0x00, 0x3B] + response.dropFirst(4)),
            ("length beyond the bytes", Array(response.prefix(2)) + [0x00, 0x40] + response.dropFirst(4)),
            ("truncated", Array(response.dropLast(4))),
            ("huge", Array(response.prefix(2)) + [0x05, 0x04] + response.dropFirst(4) + [UInt8](repeating: 0, count: 1300 - response.count)),
        ]
        for (name, bytes) in cases {
            #expect(throws: StunError.self, "\(name)") { try StunMessage(decoding: bytes) }
        }
        // One bit changed in the address: the fingerprint no longer holds.
        response[32] ^= 1
        #expect(throws: StunError.malformed("wrong FINGERPRINT")) { try StunMessage(decoding: response) }
    }

    @Test func anAttributeThatRunsPastTheEndOrFollowsTheFingerprintIsRefused() {
        let overrun = Self.bytes("01010008 2112a442 b7e7a701 bc34d686 fa87dfae 00200010 0001a147")
        #expect(throws: StunError.self) { try StunMessage(decoding: overrun) }
        let afterFingerprint = StunMessage(type: 0x0101, transactionID: Self.transactionID).encoded() + Self.bytes("80220000")
        var patched = afterFingerprint
        patched[3] = UInt8(patched.count - 20)
        #expect(throws: StunError.self) { try StunMessage(decoding: patched) }
    }

    @Test func brokenAddressesAndErrorCodesAreReadSafely() throws {
        let badFamily = StunMessage(type: 0x0101, transactionID: Self.transactionID, attributes: [.init(type: 0x0020, value: [0, 3, 0, 1, 1, 2, 3, 4])])
        #expect(throws: StunError.self) { try badFamily.mappedAddress() }
        let shortV6 = StunMessage(type: 0x0101, transactionID: Self.transactionID, attributes: [.init(type: 0x0001, value: [0, 2, 0, 1, 1, 2, 3, 4])])
        #expect(throws: StunError.self) { try shortV6.mappedAddress() }
        let error = StunMessage(type: 0x0111, transactionID: Self.transactionID, attributes: [.init(type: 0x0009, value: [0, 0, 4, 20] + Array("Unknown\u{7}".utf8))])
        let code = try error.errorCode()
        #expect(code?.code == 420 && code?.reason == "Unknown")
    }

    @Test func aReplyCountsOnlyForItsOwnTransaction() throws {
        let request = StunMessage(type: StunMessage.MessageType.bindingRequest, transactionID: Self.transactionID)
        let server = try SocketAddressForTests.make("192.0.2.9", 3478)
        let answer = try StunProbe.answer(to: request, from: server, reply: StunMessage(decoding: Self.sampleIPv4Response))
        #expect(try answer.result.get().description == "192.0.2.1:32853")
        let other = StunMessage.bindingRequest()
        #expect(throws: StunError.malformed("a reply to another transaction")) {
            try StunProbe.answer(to: other, from: server, reply: StunMessage(decoding: Self.sampleIPv4Response))
        }
        let refused = StunMessage(type: 0x0111, transactionID: Self.transactionID, attributes: [.init(type: 0x0009, value: [0, 0, 4, 0])])
        #expect(throws: StunError.errorResponse(code: 400, reason: "")) { try StunProbe.answer(to: request, from: server, reply: refused) }
    }
}
