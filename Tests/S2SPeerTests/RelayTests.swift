import Crypto
import NIOCore
import NIOPosix
import S2SPeer
import S2SProtocol
import Synchronization
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The relay route's pieces: token, sides, rendezvous hashing, relay addresses, and the relay
/// handshake against a scripted relay on 127.0.0.1 (real sockets).
@Suite struct RelayTests {
    // MARK: Token, sides, rendezvous

    @Test func tokenIsAHashOfTheKeyWithTheLabel() {
        let key = Curve25519.KeyAgreement.PrivateKey().publicKey
        let token = RelayToken(endpointKey: key)
        var hash = SHA256()
        hash.update(data: Array("s2s relay token v1".utf8))
        hash.update(data: Array(key.rawRepresentation))
        #expect(token.bytes == Array(hash.finalize()))
        #expect(token.hex.count == 64)
        #expect(token.hex.allSatisfy { "0123456789abcdef".contains($0) })
        #expect(token != RelayToken(endpointKey: Curve25519.KeyAgreement.PrivateKey().publicKey))
    }

    @Test func sidesAreSixteenHexDigitsAndDiffer() {
        for side in RelaySide.allCases {
            #expect(side.rawValue.count == 16)
            #expect(side.rawValue.allSatisfy { "0123456789abcdef".contains($0) })
        }
        #expect(RelaySide.receiver.rawValue != RelaySide.sender.rawValue)
    }

    @Test func rendezvousIsIndependentOfOrderAndStable() throws {
        let relays = try ["a.example:4001", "b.example:4001", "[::1]:4001", "10.0.0.1:4001"].map {
            try RelayAddress(parsing: $0)
        }
        var counts: [RelayAddress: Int] = [:]
        for _ in 0..<400 {
            let token = RelayToken(endpointKey: Curve25519.KeyAgreement.PrivateKey().publicKey)
            let chosen = try #require(RelayRendezvous.choose(relays, for: token))
            #expect(RelayRendezvous.choose(relays.reversed(), for: token) == chosen)
            #expect(RelayRendezvous.choose(relays + [relays[0]], for: token) == chosen)
            // Removing a relay that was not chosen changes nothing.
            let others = relays.filter { $0 != chosen }
            #expect(RelayRendezvous.choose(relays.filter { $0 != others[0] }, for: token) == chosen)
            counts[chosen, default: 0] += 1
        }
        // Every relay gets a fair share (expected 100 each).
        #expect(counts.count == 4)
        #expect(counts.values.allSatisfy { $0 > 50 })
        #expect(RelayRendezvous.choose([], for: RelayToken(endpointPublicKey: [])) == nil)
    }

    @Test func relayAddresses() throws {
        #expect(try RelayAddress(parsing: "Relay.Example:4001").description == "relay.example:4001")
        #expect(try RelayAddress(parsing: "[::1]:4001").description == "[::1]:4001")
        #expect(try RelayAddress(parsing: "127.0.0.1:4001").port == 4001)
        for bad in ["relay.example", "relay.example:0", "relay.example:65536", ":4001", "::1:4001", "[::1:4001", "a b:1"] {
            #expect(throws: RelayError.self) { try RelayAddress(parsing: bad) }
        }
    }

    // MARK: The relay handshake against a scripted relay

    @Test func theRequestLineIsTheTransitRelaysAndOkPairs() async throws {
        let key = Curve25519.KeyAgreement.PrivateKey()
        let selector = try EndpointSelector(endpointKey: key.publicKey)
        // The relay answers ok and, in the same write, the sender's preamble: the bytes after ok
        // must reach the peer pipeline.
        let relay = try await ScriptedRelay.start(answer: Array("ok\n".utf8) + selector.encoded())
        let token = RelayToken(endpointKey: key.publicKey)
        // The timeout only guards the test (the relay answers at once): long, since other suites
        // running at the same time can hold the concurrency pool for seconds.
        let connection = try await RelayConnector.connect(
            to: relay.address, token: token, side: .receiver, pairingTimeout: .seconds(120))
        // Keepalive tuned so that a vanished relay is noticed in minutes, not hours.
        #expect(try await connection.channel.getOption(.socketOption(.so_keepalive)).get() != 0)
        #expect(try await connection.channel.getOption(.tcpOption(.init(rawValue: TCP_KEEPIDLE))).get() == 60)
        let selected = Mutex<Bool>(false)
        _ = try? await SecureChannel.accept(
            connection,
            lookup: { selector in
                selected.withLock { $0 = selector.matches(endpointKey: key.publicKey) }
                return nil
            }
        ) { _ in }
        #expect(selected.withLock { $0 }, "the preamble that came with ok was read")
        #expect(relay.requests == ["please relay \(token.hex) for side \(RelaySide.receiver.rawValue)\n"])
        try await relay.waitForNoConnections()
        try await relay.stop()
    }

    @Test(arguments: [
        ("bad handshake\n", "bad handshake"), ("impatient\n", "impatient"), ("HTTP/1.1 400 Bad Request\r\n\r\n", "HTTP/1.1 400 Bad Request?"),
    ])
    func aRelayThatAnswersGarbageIsRefused(answer: String, quoted: String) async throws {
        let relay = try await ScriptedRelay.start(answer: Array(answer.utf8), closeAfterAnswer: false)
        await #expect(throws: RelayError.refused(relay: relay.address.description, answer: quoted)) {
            _ = try await RelayConnector.connect(
                to: relay.address, token: RelayToken(endpointPublicKey: [1]), side: .sender, pairingTimeout: .seconds(120))
        }
        try await relay.waitForNoConnections()
        try await relay.stop()
    }

    @Test func aRelayThatClosesAtOnce() async throws {
        let relay = try await ScriptedRelay.start(answer: nil, closeAtOnce: true)
        await #expect(throws: RelayError.closedBeforePairing(relay: relay.address.description)) {
            _ = try await RelayConnector.connect(
                to: relay.address, token: RelayToken(endpointPublicKey: [1]), side: .sender, pairingTimeout: .seconds(120))
        }
        try await relay.waitForNoConnections()
        try await relay.stop()
    }

    /// The relay reads the request and closes cleanly (a FIN, as when it is stopped): the waiting
    /// receiver must notice, although half-closure is allowed on the connection.
    @Test func aRelayThatGoesAwayWhileTheReceiverWaits() async throws {
        let relay = try await ScriptedRelay.start(answer: [], closeAfterAnswer: true)
        await #expect(throws: RelayError.closedBeforePairing(relay: relay.address.description)) {
            _ = try await RelayConnector.connect(
                to: relay.address, token: RelayToken(endpointPublicKey: [1]), side: .receiver, pairingTimeout: nil)
        }
        try await relay.waitForNoConnections()
        try await relay.stop()
    }

    @Test func aRelayThatNeverAnswers() async throws {
        let relay = try await ScriptedRelay.start(answer: nil)
        let start = ContinuousClock.now
        await #expect(throws: RelayError.notPaired(relay: relay.address.description)) {
            _ = try await RelayConnector.connect(
                to: relay.address, token: RelayToken(endpointPublicKey: [1]), side: .sender,
                pairingTimeout: .milliseconds(300))
        }
        // It waited for the pairing timeout, then gave up (the bound is loose: CI machines are busy).
        let elapsed = ContinuousClock.now - start
        #expect(elapsed >= .milliseconds(300) && elapsed < .seconds(30))
        try await relay.waitForNoConnections()
        try await relay.stop()
    }

    @Test func aWaitingReceiverStopsWhenCancelled() async throws {
        let relay = try await ScriptedRelay.start(answer: nil)
        let task = Task {
            try await RelayConnector.connect(
                to: relay.address, token: RelayToken(endpointPublicKey: [1]), side: .receiver, pairingTimeout: nil)
        }
        try await relay.waitForConnections(1)
        task.cancel()
        await #expect(throws: CancellationError.self) { _ = try await task.value }
        try await relay.waitForNoConnections()
        try await relay.stop()
    }

    @Test func noRelayListening() async throws {
        let relay = try await ScriptedRelay.start(answer: nil)
        let address = relay.address
        try await relay.stop()
        await #expect(throws: RelayError.self) {
            _ = try await RelayConnector.connect(
                to: address, token: RelayToken(endpointPublicKey: [1]), side: .sender, pairingTimeout: .seconds(1))
        }
    }
}

/// A relay on 127.0.0.1 that reads the request line, records it, and then writes `answer`
/// (`nil`: nothing, ever) and maybe closes. Counts its open connections.
final class ScriptedRelay: Sendable {
    let server: any Channel
    let address: RelayAddress
    private let state: Mutex<(requests: [String], open: Int)>

    private init(server: any Channel) throws {
        self.server = server
        guard let port = server.localAddress?.port else { throw RelayError.badAddress("no port") }
        address = RelayAddress(host: "127.0.0.1", port: port)
        state = Mutex(([], 0))
    }

    var requests: [String] { state.withLock { $0.requests } }

    static func start(answer: [UInt8]?, closeAfterAnswer: Bool = false, closeAtOnce: Bool = false) async throws -> ScriptedRelay {
        let box = StateBox()
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        Handler(answer: answer, closeAfterAnswer: closeAfterAnswer, closeAtOnce: closeAtOnce, box: box))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let relay = try ScriptedRelay(server: server)
        box.relay.withLock { $0 = relay }
        return relay
    }

    func waitForConnections(_ count: Int) async throws {
        for _ in 0..<500 where state.withLock({ $0.open }) < count { try await Task.sleep(for: .milliseconds(10)) }
        #expect(state.withLock { $0.open } >= count)
    }

    /// No connection of the client's is left open.
    func waitForNoConnections() async throws {
        for _ in 0..<500 where state.withLock({ $0.open }) > 0 { try await Task.sleep(for: .milliseconds(10)) }
        #expect(state.withLock { $0.open } == 0, "a connection to the relay was left open")
    }

    func stop() async throws {
        try await server.close()
    }

    fileprivate func opened() { state.withLock { $0.open += 1 } }
    fileprivate func closed() { state.withLock { $0.open -= 1 } }
    fileprivate func requested(_ line: String) { state.withLock { $0.requests.append(line) } }

    final class StateBox: Sendable {
        let relay = Mutex<ScriptedRelay?>(nil)
    }

    final class Handler: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let answer: [UInt8]?
        let closeAfterAnswer: Bool
        let closeAtOnce: Bool
        let box: StateBox
        var line: [UInt8] = []
        var answered = false

        init(answer: [UInt8]?, closeAfterAnswer: Bool, closeAtOnce: Bool, box: StateBox) {
            self.closeAtOnce = closeAtOnce
            self.answer = answer
            self.closeAfterAnswer = closeAfterAnswer
            self.box = box
        }

        func channelActive(context: ChannelHandlerContext) {
            box.relay.withLock { $0?.opened() }
            if closeAtOnce { context.close(promise: nil) }
            context.fireChannelActive()
        }

        func channelInactive(context: ChannelHandlerContext) {
            box.relay.withLock { $0?.closed() }
            context.fireChannelInactive()
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var buffer = unwrapInboundIn(data)
            guard !answered, let bytes = buffer.readBytes(length: buffer.readableBytes) else { return }
            line += bytes
            guard line.last == UInt8(ascii: "\n") else { return }
            answered = true
            box.relay.withLock { $0?.requested(String(decoding: line, as: UTF8.self)) }
            guard let answer else { return }
            let done = context.writeAndFlush(wrapOutboundOut(context.channel.allocator.buffer(bytes: answer)))
            if closeAfterAnswer {
                let channel = context.channel
                done.whenComplete { _ in channel.close(promise: nil) }
            }
        }
    }
}
