import Glibc
import NIOCore
import S2SPeer
import Testing

/// The listener itself: adopting an inherited socket, as under systemd socket activation.
@Suite(.timeLimit(.minutes(1)))
struct PeerServerTests {
    /// A TCP socket bound to 127.0.0.1 on a free port and listening, as systemd would pass it.
    static func listeningSocket() throws -> CInt {
        let fd = socket(AF_INET, CInt(SOCK_STREAM.rawValue), 0)
        try #require(fd >= 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        try #require(bound == 0)
        try #require(listen(fd, 16) == 0)
        return fd
    }

    @Test func adoptsAnInheritedListeningSocket() async throws {
        let fd = try Self.listeningSocket()
        try await TestServer.with(inheritedSocket: fd) { server in
            #expect(server.address.port != 0)
            try await server.goodClientWorks()
            try await server.goodClientWorks()
            #expect(server.server.statistics.accepted == 2)
        }
    }
}
