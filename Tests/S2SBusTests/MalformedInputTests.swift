import Testing
@testable import S2SBus

/// Bytes from the wire that are not a valid message are an error, never a crash.
struct MalformedInputTests {
    static func validMessageBytes() throws -> [UInt8] {
        try Message.methodCall(
            destination: "org.s2s.Daemon1", path: "/org/s2s/Daemon1", interface: "org.s2s.Daemon1.Manager",
            member: "CreateEndpoint", body: [.string("/tmp/in"), .vardict(["Quota": .uint64(1 << 30)])]
        ).marshal()
    }

    @Test func garbageIsRejected() {
        #expect(throws: BusError.self) { try Message.demarshal([]) }
        #expect(throws: BusError.self) { try Message.demarshal([UInt8](repeating: 0xFF, count: 64)) }
        #expect(throws: BusError.self) { try Message.demarshal(Array("GET / HTTP/1.1\r\n\r\n".utf8)) }
    }

    @Test func everyTruncationIsRejected() throws {
        let bytes = try Self.validMessageBytes()
        for length in 0..<bytes.count {
            #expect(throws: BusError.self) { try Message.demarshal(Array(bytes.prefix(length))) }
        }
    }

    @Test func aWrongSignatureHeaderIsRejected() throws {
        var bytes = try Self.validMessageBytes()
        // The body signature "sa{sv}" sits in the header; claim a uint32 instead of the string.
        let signature = Array("sa{sv}".utf8)
        guard let start = (0...(bytes.count - signature.count)).first(where: { Array(bytes[$0..<($0 + signature.count)]) == signature }) else {
            Issue.record("signature not found in the header")
            return
        }
        bytes[start] = UInt8(ascii: "u")
        bytes[start + 1] = UInt8(ascii: "u")
        #expect(throws: BusError.self) { try Message.demarshal(bytes).body() }
    }

    /// Random single-byte mutations of a valid message: each is either rejected or read in full.
    @Test func mutatedMessagesNeverCrash() throws {
        let original = try Self.validMessageBytes()
        var generator = SystemRandomNumberGenerator()
        var rejected = 0
        for _ in 0..<20_000 {
            var bytes = original
            for _ in 0..<Int.random(in: 1...4, using: &generator) {
                bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
            }
            do {
                let message = try Message.demarshal(bytes)
                _ = try message.body()
                _ = (message.path, message.member, message.interface, message.signature)
            } catch {
                rejected += 1
            }
        }
        #expect(rejected > 0)
    }
}
