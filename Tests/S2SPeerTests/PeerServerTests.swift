import Glibc
import NIOCore
import S2SPeer
import Testing

/// The listener itself: adopting an inherited socket, as under systemd socket activation.
@Suite(.timeLimit(.minutes(1)))
struct PeerServerTests {
    @Test func adoptsAnInheritedListeningSocket() async throws {
        let fd = try loopbackListeningSocket()
        try await TestServer.with(inheritedSocket: fd) { server in
            #expect(server.address.port != 0)
            try await server.goodClientWorks()
            try await server.goodClientWorks()
            #expect(server.server.statistics.accepted == 2)
        }
    }
}
