import Synchronization
import Crypto
import NIOCore
import NIOPosix
import S2SPeer
import S2SProtocol
import Testing

/// Floods of connections that never finish their handshake (issue 19, findings 0 and 4): one
/// address cannot lock out another, a silent connection holds its slot only until the preamble
/// deadline, and a server stopped with many handshakes pending closes them all without crashing.
/// Only loopback; every wait is bounded.
@Suite(.timeLimit(.minutes(2)))
struct HandshakeFloodTests {
    /// A handshake timeout far above the preamble deadline, so the two cannot be mistaken.
    static let limits = ProtocolLimits(maxRecordSize: 8192, handshakeTimeout: .seconds(10), idleTimeout: .seconds(12))

    /// Opens `count` TCP connections to `address` that send nothing; returns those that the
    /// server did not reset at once (it may refuse them before the connect completes here).
    static func openSilent(_ count: Int, to address: SocketAddress) async -> [any Channel] {
        var channels: [any Channel] = []
        for _ in 0..<count {
            if let channel = try? await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(to: address).get() {
                channels.append(channel)
            }
        }
        return channels
    }

    /// Waits up to `limit` until every channel is closed; returns how many are still open.
    static func waitClosed(_ channels: [any Channel], limit: Duration) async throws -> Int {
        let clock = ContinuousClock()
        let deadline = clock.now + limit
        while clock.now < deadline, channels.contains(where: \.isActive) {
            try await Task.sleep(for: .milliseconds(20))
        }
        return channels.count(where: \.isActive)
    }

    /// A well-behaved sender whose connection comes from `source`: handshake, one record echoed.
    static func exchange(
        from source: String, to address: SocketAddress, endpointKey: Curve25519.KeyAgreement.PublicKey
    ) async throws -> Record {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .bind(to: SocketAddress(ipAddress: source, port: 0))
            .connect(to: address) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try PeerPipeline.configure(channel, expectPreamble: false, limits: limits)
                }
            }
        return try await SecureChannel.connect(paired: channel, endpointKey: endpointKey, limits: limits) { secure in
            try await secure.send(.fileAbort(entry: 7))
            let record = try await secure.nextNonKeepalive()
            await secure.close()
            return record
        }
    }

    @Test func aFloodFromOneAddressLeavesRoomForAnother() async throws {
        try await TestServer.with(limits: Self.limits, maxConcurrentHandshakes: 64) { server in
            let flood = await Self.openSilent(100, to: server.address)
            let clock = ContinuousClock()
            let deadline = clock.now + .seconds(5)
            while server.server.statistics.accepted < 100, clock.now < deadline {
                try await Task.sleep(for: .milliseconds(10))
            }
            for _ in 0..<3 {
                let echoed = try await Self.exchange(from: "127.0.0.2", to: server.address, endpointKey: server.endpointKey)
                #expect(echoed == .fileAbort(entry: 7))
            }
            for channel in flood { channel.close(promise: nil) }
        }
    }

    @Test func aSilentConnectionIsCutOffByThePreambleDeadline() async throws {
        // The preamble timer starts when the server starts reading, which a loaded machine can
        // delay by seconds; a long handshake timeout keeps the two timers apart.
        let limits = ProtocolLimits(maxRecordSize: 8192, handshakeTimeout: .seconds(30), idleTimeout: .seconds(30))
        try await TestServer.with(limits: limits) { server in
            let outcome = try await RawClient.with(server.address) { inbound, _ in
                await RawClient.readToEnd(&inbound)
            }
            #expect(outcome.ended)
            #expect(outcome.elapsed < .seconds(20), "by the preamble deadline (3 s), not the handshake timeout (30 s)")
            try await server.waitForIdle()
            #expect(server.errors.withLock { $0 }.map { "\($0)" } == ["preamble timeout"])
            try await server.goodClientWorks()
        }
    }

    /// Ten rounds, run in parallel: the crash this guards against depends on timing (before the
    /// fix, ten rounds trapped the test process in about half the runs).
    @Test(arguments: 1...10) func stoppingWithHandshakesPendingClosesEveryConnection(round: Int) async throws {
        let server = try await PeerServer.bind(to: SocketAddress(ipAddress: "127.0.0.1", port: 0), limits: Self.limits)
        let address = try #require(server.localAddress)
        let endpoint = UncheckedPrivateKey(Curve25519.KeyAgreement.PrivateKey())
        let held = await Self.openSilent(100, to: address)
        let burst = try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await server.run(lookup: { _ in endpoint }, handler: { _ in })
            }
            // 100 pending, then stopped while a burst of 100 more is being accepted: some are
            // accepted but not yet served when the accept loop is cancelled.
            let opener = Task { await Self.openSilent(100, to: address) }
            try await Task.sleep(for: .milliseconds(20))
            group.cancelAll()
            try await group.waitForAll()
            return await opener.value
        }
        let clients = held + burst
        let open = try await Self.waitClosed(clients, limit: .seconds(5))
        #expect(open == 0, "every connection is closed when the server stops")
        for channel in clients { channel.close(promise: nil) }
    }
}
