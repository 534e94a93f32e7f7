public import Crypto
public import NIOCore
public import NIOPosix
public import S2SProtocol
import Synchronization

/// The receiver's listener: accepts TCP connections on a bound address (`--listen ADDR:PORT`) or an
/// inherited listening socket (systemd's `s2sd.socket`), runs the responder handshake on each, and
/// hands every established ``SecureChannel`` to an async handler.
///
/// ``run(lookup:handler:)`` is structured: each connection is a child task of a discarding task
/// group, so when `run` returns (its task cancelled, or the listener closed) no connection is left
/// behind. Who may start a handshake is decided the moment a connection is accepted, by
/// ``HandshakeAdmission`` (caps on unfinished handshakes in all and per source address, penalties
/// for sources whose connections run out of time, random early drop when nearly full); a refused
/// connection is reset at once, before anything is read.
/// A silent connection holds its slot for the preamble timeout only. Errors of one connection end
/// that connection only.
public final class PeerServer: Sendable {
    /// Counters, for tests, logs and the bus.
    public struct Statistics: Sendable, Hashable {
        /// Connections accepted and not yet closed (handshaking or established).
        public var activeConnections = 0
        /// Connections in the preamble or handshake.
        public var handshaking = 0
        /// Connections accepted in total.
        public var accepted = 0
        /// Connections that failed before the handler ran (bad preamble, unknown endpoint, failed
        /// handshake, timeout, or refused at once: the four `refused` counters below).
        public var failedHandshakes = 0
        /// Refused at once: the handshake table was full.
        public var refusedFull = 0
        /// Refused at once: their source had its most unfinished handshakes.
        public var refusedSourceLimit = 0
        /// Refused at once by the random early drop.
        public var refusedEarlyDrop = 0
        /// Refused at once: their source was penalized for connections that ran out of time.
        public var refusedPenalty = 0
        /// Handler runs that ended with an error.
        public var failedSessions = 0
    }

    typealias Listener = NIOAsyncChannel<AcceptedConnection, Never>

    /// The address the listener is bound to (with the actual port when bound to port 0).
    public let localAddress: SocketAddress?
    public let limits: ProtocolLimits
    public let hello: Hello
    /// Who may start a handshake (``HandshakeAdmission``).
    public var admission: HandshakeAdmission.Policy { gate.policy }
    /// The most handshakes unfinished at once (``HandshakeAdmission/Policy/maxConcurrentHandshakes``).
    public var maxConcurrentHandshakes: Int { gate.policy.maxConcurrentHandshakes }
    private let listener: Listener
    private let gate: ConnectionGate

    /// The default for `maxConcurrentHandshakes`.
    public static let defaultMaxConcurrentHandshakes = HandshakeAdmission.Policy.defaultMaxConcurrentHandshakes

    private init(listener: Listener, gate: ConnectionGate, limits: ProtocolLimits, hello: Hello?) {
        self.listener = listener
        self.gate = gate
        self.localAddress = listener.channel.localAddress
        self.limits = limits
        self.hello = hello ?? Hello(limits: limits)
    }

    /// A snapshot of the counters.
    public var statistics: Statistics {
        gate.statistics
    }

    // MARK: Binding

    /// Binds a new listening socket to `address`.
    public static func bind(
        to address: SocketAddress,
        limits: ProtocolLimits = .default,
        hello: Hello? = nil,
        admission: HandshakeAdmission.Policy = .default,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws(PeerError) -> PeerServer {
        let gate = ConnectionGate(policy: admission)
        do {
            let listener = try await bootstrap(group: group)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .bind(to: address) { childInitializer($0, limits: limits, gate: gate) }
            return PeerServer(listener: listener, gate: gate, limits: limits, hello: hello)
        } catch {
            throw .network("binding \(address): \(error)")
        }
    }

    /// Binds to the `ADDR:PORT` of a `--listen` option (``parseListenAddress(_:)``).
    public static func bind(
        listen: String,
        limits: ProtocolLimits = .default,
        hello: Hello? = nil,
        admission: HandshakeAdmission.Policy = .default,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws(PeerError) -> PeerServer {
        try await bind(
            to: parseListenAddress(listen), limits: limits, hello: hello, admission: admission, group: group)
    }

    /// Adopts an inherited socket that is already bound and listening (e.g. `SD_LISTEN_FDS_START`).
    public static func adopt(
        socket: NIOBSDSocket.Handle,
        limits: ProtocolLimits = .default,
        hello: Hello? = nil,
        admission: HandshakeAdmission.Policy = .default,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws(PeerError) -> PeerServer {
        let gate = ConnectionGate(policy: admission)
        do {
            let listener = try await bootstrap(group: group)
                .bind(socket) { childInitializer($0, limits: limits, gate: gate) }
            return PeerServer(listener: listener, gate: gate, limits: limits, hello: hello)
        } catch {
            throw .network("adopting listening socket \(socket): \(error)")
        }
    }

    /// Parses `ADDR:PORT`, `[V6ADDR]:PORT` (numeric addresses; no name lookup).
    public static func parseListenAddress(_ text: String) throws(PeerError) -> SocketAddress {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
            (0...65535).contains(port)
        else {
            throw .network("listen address \"\(text)\" is not ADDR:PORT")
        }
        var host = String(text[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        do {
            return try SocketAddress(ipAddress: host, port: port)
        } catch {
            throw .network("listen address \"\(text)\": \(error)")
        }
    }

    /// Accepted connections do not read (`autoRead` off) until ``serve(_:lookup:onError:handler:)``
    /// has wrapped them: what arrived before would pass the end of the pipeline unseen.
    private static func bootstrap(group: any EventLoopGroup) -> ServerBootstrap {
        ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
            .childChannelOption(.autoRead, value: false)
    }

    /// Runs on the new connection's event loop before anything is read: admission, then the
    /// handlers (with the preamble deadline). Never fails, since a failed child initializer would
    /// end the listener's inbound stream, and so the accept loop: a connection that cannot be set
    /// up is reset and handed on without a ticket.
    private static func childInitializer(
        _ channel: any Channel, limits: ProtocolLimits, gate: ConnectionGate
    ) -> EventLoopFuture<AcceptedConnection> {
        guard let ticket = gate.admit(channel) else {
            return channel.eventLoop.makeSucceededFuture(AcceptedConnection(channel: channel, ticket: nil))
        }
        do {
            try PeerPipeline.addHandlers(
                channel, expectPreamble: true, limits: limits, preambleTimeout: gate.policy.preambleTimeout)
        } catch {
            gate.handshakeFailed()
            // Reset: a connection this side could not set up says nothing of the endpoint.
            channel.closeWithReset()
            return channel.eventLoop.makeSucceededFuture(AcceptedConnection(channel: channel, ticket: nil))
        }
        return channel.eventLoop.makeSucceededFuture(AcceptedConnection(channel: channel, ticket: ticket))
    }

    // MARK: Serving

    /// Accepts connections until the task is cancelled or the listener fails, running the
    /// handshake on each and then `handler` with the channel. The listener is closed when this
    /// returns; every connection has ended by then.
    ///
    /// - Parameters:
    ///   - lookup: the private key of the endpoint a preamble selects, or `nil` (then the
    ///     connection is closed without a word).
    ///   - onError: told about every connection that ends with an error (for logging).
    ///   - handler: the session; the connection is closed when it returns or throws.
    public func run(
        lookup: @escaping @Sendable (EndpointSelector) async -> UncheckedPrivateKey?,
        onError: @escaping @Sendable (PeerError) -> Void = { _ in },
        handler: @escaping @Sendable (SecureChannel) async throws -> Void
    ) async throws {
        defer { gate.closeAll() }
        try await listener.executeThenClose { inbound in
            await withDiscardingTaskGroup { group in
                do {
                    for try await connection in inbound {
                        guard let ticket = connection.ticket else { continue }
                        group.addTask {
                            await self.serve(
                                connection.channel, ticket: ticket, lookup: lookup, onError: onError, handler: handler)
                        }
                    }
                } catch {
                    onError(.network("accepting: \(error)"))
                }
            }
        }
    }

    /// Serves one admitted connection: wraps it, and runs the handshake and `handler` inside
    /// `executeThenClose`, which finishes the connection's writer and closes it on every path.
    private func serve(
        _ channel: any Channel,
        ticket: HandshakeTicket,
        lookup: @escaping @Sendable (EndpointSelector) async -> UncheckedPrivateKey?,
        onError: @Sendable (PeerError) -> Void,
        handler: @Sendable (SecureChannel) async throws -> Void
    ) async {
        let counted = ticket.claimForServing()
        defer { if counted { gate.connectionEnded() } }
        let connection: NIOAsyncChannel<ByteBuffer, ByteBuffer>
        do {
            connection = try await channel.eventLoop.submit { () throws -> NIOAsyncChannel<ByteBuffer, ByteBuffer> in
                // Reading resumes on a later turn of the event loop, when the wrapper is in place.
                guard let options = channel.syncOptions else { throw PeerError.network("no synchronous channel options") }
                channel.pipeline.syncOperations.fireUserInboundEventTriggered(ReadingStarted())
                try options.setOption(.autoRead, value: true)
                return try PeerPipeline.wrap(channel)
            }.get()
        } catch {
            channel.closeWithReset()
            gate.handshakeFailed()
            onError(.network("starting to read: \(error)"))
            return
        }
        let completed = Atomic<Bool>(false)
        do {
            try await SecureChannel.accept(
                connection, lookup: { await lookup($0)?.key }, hello: hello, limits: limits,
                onHandshake: {
                    completed.store(true, ordering: .releasing)
                    ticket.finish()
                }
            ) { secure in
                do {
                    try await handler(secure)
                } catch {
                    gate.sessionFailed()
                    throw error
                }
            }
        } catch {
            if !completed.load(ordering: .acquiring) {
                gate.handshakeFailed()
                if case .timeout = error as? PeerError { gate.timedOut(ticket.source) }
            }
            onError(error as? PeerError ?? .closed("\(error)"))
        }
        ticket.finish()
    }
}

/// An endpoint's private key handed across tasks: swift-crypto 3.12 does not mark its key types
/// Sendable, but they are immutable once created.
public struct UncheckedPrivateKey: @unchecked Sendable {
    public let key: Curve25519.KeyAgreement.PrivateKey
    public init(_ key: Curve25519.KeyAgreement.PrivateKey) { self.key = key }
}
