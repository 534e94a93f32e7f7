import ArgumentParser
import S2SCore
import Testing
@testable import S2SControl

/// `s2sctl send` reads the destination as the daemon does and refuses a mistyped one itself,
/// before any bus call: with no daemon (and no bus) in a unit test, a call would fail otherwise.
struct SendDestinationTests {
    static let id = "s2s1s5s0qzvfxzn4gayt0hwtg0hhtgxm7wsdycup4a8t5j5ca25mfe4qd9kala"
    /// `id` with one character mistyped (q→p).
    static let mistyped = "s2s1s5s0qzvfxzn4gayt0hwtg0hhtgxm7wsdycup4a8t5j5ca25mfe4pd9kala"

    @Test func aMistypedIDFailsWithTheChecksumMessageBeforeTheBus() async throws {
        let command = try S2SCtl.parseAsRoot(["send", "/etc/hostname", "\(Self.mistyped)@example.net:7730"])
        guard var send = command as? any AsyncParsableCommand else {
            Issue.record("not an async command")
            return
        }
        await #expect {
            try await send.run()
        } throws: { error in
            (error as? CommandFailure).map {
                $0.message == "the endpoint ID's checksum does not match: a character is mistyped" && $0.status == .dataError
            } ?? false
        }
    }

    @Test(arguments: ["\(id)@[::1", "\(id)@host:99999", "\(id)@"])
    func aBadAddressFailsBeforeTheBus(_ destination: String) {
        #expect(throws: CommandFailure.self) { try SendCommand.destination(destination) }
    }

    @Test func aGoodDestinationIsSentInItsCanonicalForm() throws {
        #expect(try SendCommand.destination("\(Self.id.uppercased())@[::1]").description == "\(Self.id)@[::1]:7730")
        #expect(try SendCommand.destination(Self.id).route == .relay)
    }
}
