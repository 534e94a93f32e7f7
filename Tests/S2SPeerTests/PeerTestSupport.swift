import Crypto
import Foundation
import NIOCore
import NIOPosix
import S2SPeer
import S2SProtocol
import Synchronization
import Testing

extension ProtocolLimits {
    /// The defaults with a minute for the handshake, for tests that do not test the timeout: the
    /// unit suites share a cooperative pool of a thread per core, and behind the CPU-bound suites a
    /// handshake's tasks can wait longer than the default 10 s on a loaded 2-core machine.
    static let patient = ProtocolLimits(handshakeTimeout: .seconds(60))
}

/// A receiver on 127.0.0.1 with one endpoint, for the duration of a test body.
final class TestServer: Sendable {
    let server: PeerServer
    let address: SocketAddress
    let endpoint: UncheckedPrivateKey
    /// Every connection error the server reported, in order.
    let errors: Mutex<[PeerError]>

    var endpointKey: Curve25519.KeyAgreement.PublicKey { endpoint.key.publicKey }

    init(server: PeerServer, address: SocketAddress, endpoint: UncheckedPrivateKey) {
        self.server = server
        self.address = address
        self.endpoint = endpoint
        self.errors = Mutex([])
    }

    /// The handler the tests' server runs: echoes every record back, except DATA and FILE_END for
    /// entry 0: it checks their offsets, hashes the data with SHA-256 and answers FILE_END with
    /// FILE_RESULT ok or integrity. A
    /// record that does not decode is answered with CANCEL(protocol error) and a close.
    static func echo(_ secure: SecureChannel) async throws {
        var hash = SHA256()
        var expectedOffset: UInt64 = 0
        while true {
            let record: Record
            do {
                record = try await secure.receive()
            } catch .closed {
                await secure.close()
                return
            } catch .protocolError(let error) {
                try await secure.send(.cancel(.protocolError))
                await secure.close()
                throw PeerError.protocolError(error)
            }
            switch record {
            case .data(0, let offset, let bytes):
                guard offset == expectedOffset else {
                    try await secure.send(.cancel(.protocolError))
                    await secure.close()
                    return
                }
                hash.update(data: bytes)
                expectedOffset += UInt64(bytes.count)
            case .fileEnd(0, let digest):
                let ok = Array(hash.finalize()) == digest
                try await secure.send(.fileResult(entry: 0, ok ? .ok : .integrity))
                hash = SHA256()
                expectedOffset = 0
            default:
                try await secure.send(record)
            }
        }
    }

    /// Starts a server with `limits` (whose endpoint lookup takes `lookupDelay`), runs `body`, then
    /// stops the server and checks that no connection is left.
    static func with(
        limits: ProtocolLimits = .patient,
        maxConcurrentHandshakes: Int = 8,
        admission: HandshakeAdmission.Policy? = nil,
        handler: @escaping @Sendable (SecureChannel) async throws -> Void = TestServer.echo,
        inheritedSocket: NIOBSDSocket.Handle? = nil,
        lookupDelay: Duration = .zero,
        _ body: (TestServer) async throws -> Void
    ) async throws {
        let server: PeerServer
        let admission = admission ?? HandshakeAdmission.Policy(maxConcurrentHandshakes: maxConcurrentHandshakes)
        if let inheritedSocket {
            server = try await PeerServer.adopt(socket: inheritedSocket, limits: limits, admission: admission)
        } else {
            server = try await PeerServer.bind(
                to: SocketAddress(ipAddress: "127.0.0.1", port: 0), limits: limits, admission: admission)
        }
        let address = try #require(server.localAddress)
        let endpoint = UncheckedPrivateKey(Curve25519.KeyAgreement.PrivateKey())
        let test = TestServer(server: server, address: address, endpoint: endpoint)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await server.run(
                    lookup: { selector in
                        if lookupDelay > .zero { try? await Task.sleep(for: lookupDelay) }
                        return selector.matches(endpointKey: endpoint.key.publicKey) ? endpoint : nil
                    },
                    onError: { error in test.errors.withLock { $0.append(error) } },
                    handler: handler)
            }
            try await body(test)
            try await test.waitForIdle()
            group.cancelAll()
            try await group.waitForAll()
        }
        #expect(server.statistics.activeConnections == 0)
        #expect(server.statistics.handshaking == 0)
    }

    /// Waits (up to 20 s: a loaded machine is slow to close) until the server has no connection left.
    func waitForIdle() async throws {
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(20)
        while server.statistics.activeConnections > 0, clock.now < deadline {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(server.statistics.activeConnections == 0, "connections left: \(server.statistics)")
    }

    /// A well-behaved sender: handshake, one record echoed, graceful close.
    func goodClientWorks() async throws {
        let echoed = try await SecureChannel.connect(to: address, endpointKey: endpointKey, limits: .patient) { secure in
            try await secure.send(.fileAbort(entry: 42))
            let record = try await secure.nextNonKeepalive()
            await secure.close()
            return record
        }
        #expect(echoed == .fileAbort(entry: 42))
    }
}

extension SecureChannel {
    /// The next record that is not a KEEPALIVE.
    func nextNonKeepalive() async throws(PeerError) -> Record {
        while true {
            let record = try await receive()
            if record != .keepalive { return record }
        }
    }
}

/// What a raw client saw after it stopped sending.
struct RawOutcome {
    /// Frames received (after the handshake: ciphertexts).
    var frames: [ByteBuffer] = []
    /// Whether the stream ended (EOF, reset or a decoding error) rather than the wait timing out.
    var ended = false
    /// How long the wait for the end took.
    var elapsed: Duration = .zero
}

/// A client that speaks the wire format by hand, so that tests can send what a correct client
/// never would.
enum RawClient {
    /// Connects to `address`; `body` gets the frames the server sends and a writer for raw bytes.
    static func with<Result: Sendable>(
        _ address: SocketAddress,
        _ body: (inout NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator, NIOAsyncChannelOutboundWriter<ByteBuffer>)
            async throws -> Result
    ) async throws -> Result {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .connect(to: address) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        NoiseFrameDecoder(expectPreamble: false))
                    return try NIOAsyncChannel<ByteBuffer, ByteBuffer>(
                        wrappingChannelSynchronously: channel,
                        configuration: .init(isOutboundHalfClosureEnabled: true))
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            var iterator = inbound.makeAsyncIterator()
            return try await body(&iterator, outbound)
        }
    }

    /// Writes `bytes` as they are.
    static func write(_ bytes: [UInt8], _ outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>) async throws {
        try await outbound.write(ByteBuffer(bytes: bytes))
    }

    /// The preamble for `endpointKey` and handshake message 1, framed, as one write; then reads
    /// message 2 and returns the transport ciphers.
    static func handshake(
        endpointKey: Curve25519.KeyAgreement.PublicKey,
        _ iterator: inout NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator,
        _ outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    ) async throws -> (send: CipherState, receive: CipherState) {
        var handshake = try HandshakeState(
            protocolName: .s2s, role: .initiator, prologue: EndpointSelector.magic, remoteStaticKey: endpointKey)
        let message1 = try handshake.writeMessage(payload: Hello(limits: .default).encoded())
        let selector = try EndpointSelector(endpointKey: endpointKey)
        try await write(selector.encoded() + frame(message1), outbound)
        let message2 = try #require(try await iterator.next())
        _ = try Hello.decode(handshake.readMessage(Array(message2.readableBytesView)))
        return try handshake.split()
    }

    /// `bytes` with its 2-byte length.
    static func frame(_ bytes: [UInt8]) -> [UInt8] {
        [UInt8(bytes.count >> 8), UInt8(bytes.count & 0xff)] + bytes
    }

    /// Reads until the server ends the stream or `limit` passes.
    static func readToEnd(
        _ iterator: inout NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator, limit: Duration = .seconds(10)
    ) async -> RawOutcome {
        var outcome = RawOutcome()
        let clock = ContinuousClock()
        let start = clock.now
        // The server's own timers end the stream; `limit` is checked between frames only.
        while clock.now - start < limit {
            do {
                guard let frame = try await iterator.next() else {
                    outcome.ended = true
                    break
                }
                outcome.frames.append(frame)
            } catch {
                outcome.ended = true
                break
            }
        }
        outcome.elapsed = clock.now - start
        return outcome
    }
}

/// A TCP socket bound to 127.0.0.1 on a free port and listening, as systemd would pass it.
func loopbackListeningSocket() throws -> CInt {
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

/// A bare TCP listener on 127.0.0.1 that answers nothing: it accepts when told and resets
/// (`SO_LINGER` 0), as a receiver refusing a connection for load does.
final class RawListener {
    private let fd: Int32
    let address: SocketAddress

    init() throws {
        let fd = try loopbackListeningSocket()
        do {
            address = try SocketAddress(ipAddress: "127.0.0.1", port: Self.port(of: fd))
        } catch {
            Glibc.close(fd)
            throw error
        }
        self.fd = fd
    }

    /// The port the kernel chose for `fd`.
    private static func port(of fd: CInt) throws -> Int {
        var bound = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &bound) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        return Int(UInt16(bigEndian: bound.sin_port))
    }

    /// Accepts one connection and resets it at once, without reading.
    func acceptAndReset() throws {
        let connection = accept(fd, nil, nil)
        guard connection >= 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        let set = setsockopt(connection, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        let error = errno
        Glibc.close(connection)
        guard set == 0 else { throw POSIXError(.init(rawValue: error) ?? .EIO) }
    }

    func close() {
        Glibc.close(fd)
    }
}
