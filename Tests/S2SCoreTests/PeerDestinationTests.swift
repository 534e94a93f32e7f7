import Foundation
import Testing
@testable import S2SCore

/// The destination forms the daemon accepts, and the messages for the ones it refuses.
struct PeerDestinationTests {
    static let id = "s2s1s5s0qzvfxzn4gayt0hwtg0hhtgxm7wsdycup4a8t5j5ca25mfe4qd9kala"
    /// `id` with its last data character changed (q→p): a mistype the checksum catches.
    static let mistyped = "s2s1s5s0qzvfxzn4gayt0hwtg0hhtgxm7wsdycup4a8t5j5ca25mfe4pd9kala"

    @Test(arguments: [
        ("\(id)@example.net:7731", "example.net", 7731, "\(id)@example.net:7731"),
        ("\(id)@192.0.2.7", "192.0.2.7", 7730, "\(id)@192.0.2.7:7730"),
        ("\(id)@[2001:db8::1]:9000", "2001:db8::1", 9000, "\(id)@[2001:db8::1]:9000"),
        ("\(id)@[::1]", "::1", 7730, "\(id)@[::1]:7730"),
        ("\(id.uppercased())@host_1:1", "host_1", 1, "\(id)@host_1:1"),
        ("  \(id) @h:65535", "h", 65535, "\(id)@h:65535"),
    ])
    func directRoutes(_ text: String, _ host: String, _ port: Int, _ canonical: String) throws {
        let destination = try PeerDestination(parsing: text)
        #expect(destination.id.text == Self.id)
        #expect(destination.route == .direct(host: host, port: port))
        #expect(destination.description == canonical)
        #expect(try PeerDestination(parsing: destination.description) == destination)
    }

    @Test func aPlainIDIsTheRelayRoute() throws {
        let destination = try PeerDestination(parsing: Self.id)
        #expect(destination.route == .relay)
        #expect(destination.description == Self.id && destination.routeDescription == "relay")
    }

    @Test(arguments: [
        ("\(mistyped)@host", "the endpoint ID's checksum does not match: a character is mistyped"),
        (mistyped, "the endpoint ID's checksum does not match: a character is mistyped"),
        ("s2s1qqq@host", "an endpoint ID has 62 characters, this has 7"),
        ("\(id)@[::1", "\"[::1\": unterminated [IPv6 address]"),
        ("\(id)@[::1]9000", "\"[::1]9000\": expected :PORT after ]"),
        ("\(id)@", "\"\" is not HOST:PORT"),
        ("\(id)@:7730", "\":7730\" is not HOST:PORT"),
        ("\(id)@ho st:1", "\"ho st:1\" is not HOST:PORT"),
        ("\(id)@host:0", "\"0\" is not a port number (1-65535)"),
        ("\(id)@host:65536", "\"65536\" is not a port number (1-65535)"),
        ("\(id)@host:", "\"\" is not a port number (1-65535)"),
        ("\(id)@[::1]:x", "\"x\" is not a port number (1-65535)"),
    ])
    func refusedWithAMessage(_ text: String, _ message: String) {
        #expect {
            try PeerDestination(parsing: text)
        } throws: { error in
            "\(error)" == message
        }
    }

    @Test func aMistypedIDIsAChecksumError() {
        #expect(throws: PeerDestinationError.id(.malformed(.checksumMismatch))) {
            try PeerDestination(parsing: "\(Self.mistyped)@example.net:7730")
        }
    }
}
