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
/// behind. At most `maxConcurrentHandshakes` connections may be in the handshake at once; a
/// connection beyond that is closed at once, so a flood of silent clients costs one handshake
/// timeout per slot and nothing more. Errors of one connection end that connection only.
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
        /// handshake, timeout, or no free handshake slot).
        public var failedHandshakes = 0
        /// Handler runs that ended with an error.
        public var failedSessions = 0
    }

    public typealias Listener = NIOAsyncChannel<NIOAsyncChannel<ByteBuffer, ByteBuffer>, Never>

    /// The address the listener is bound to (with the actual port when bound to port 0).
    public let localAddress: SocketAddress?
    public let limits: ProtocolLimits
    public let hello: Hello
    public let maxConcurrentHandshakes: Int
    private let listener: Listener
    private let counters = Mutex(Statistics())

    /// The default for `maxConcurrentHandshakes`.
    public static let defaultMaxConcurrentHandshakes = 64

    private init(listener: Listener, limits: ProtocolLimits, hello: Hello?, maxConcurrentHandshakes: Int) {
        self.listener = listener
        self.localAddress = listener.channel.localAddress
        self.limits = limits
        self.hello = hello ?? Hello(limits: limits)
        self.maxConcurrentHandshakes = max(1, maxConcurrentHandshakes)
    }

    /// A snapshot of the counters.
    public var statistics: Statistics {
        counters.withLock { $0 }
    }

    // MARK: Binding

    /// Binds a new listening socket to `address`.
    public static func bind(
        to address: SocketAddress,
        limits: ProtocolLimits = .default,
        hello: Hello? = nil,
        maxConcurrentHandshakes: Int = defaultMaxConcurrentHandshakes,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws(PeerError) -> PeerServer {
        do {
            let listener = try await bootstrap(group: group)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .bind(to: address) { childInitializer($0, limits: limits) }
            return PeerServer(
                listener: listener, limits: limits, hello: hello, maxConcurrentHandshakes: maxConcurrentHandshakes)
        } catch {
            throw .network("binding \(address): \(error)")
        }
    }

    /// Binds to the `ADDR:PORT` of a `--listen` option (``parseListenAddress(_:)``).
    public static func bind(
        listen: String,
        limits: ProtocolLimits = .default,
        hello: Hello? = nil,
        maxConcurrentHandshakes: Int = defaultMaxConcurrentHandshakes,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws(PeerError) -> PeerServer {
        try await bind(
            to: parseListenAddress(listen), limits: limits, hello: hello,
            maxConcurrentHandshakes: maxConcurrentHandshakes, group: group)
    }

    /// Adopts an inherited socket that is already bound and listening (e.g. `SD_LISTEN_FDS_START`).
    public static func adopt(
        socket: NIOBSDSocket.Handle,
        limits: ProtocolLimits = .default,
        hello: Hello? = nil,
        maxConcurrentHandshakes: Int = defaultMaxConcurrentHandshakes,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws(PeerError) -> PeerServer {
        do {
            let listener = try await bootstrap(group: group)
                .bind(socket) { childInitializer($0, limits: limits) }
            return PeerServer(
                listener: listener, limits: limits, hello: hello, maxConcurrentHandshakes: maxConcurrentHandshakes)
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

    private static func bootstrap(group: any EventLoopGroup) -> ServerBootstrap {
        ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .childChannelOption(.tcpOption(.tcp_nodelay), value: 1)
    }

    private static func childInitializer(
        _ channel: any Channel, limits: ProtocolLimits
    ) -> EventLoopFuture<NIOAsyncChannel<ByteBuffer, ByteBuffer>> {
        channel.eventLoop.makeCompletedFuture {
            try PeerPipeline.configure(channel, expectPreamble: true, limits: limits)
        }
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
        try await listener.executeThenClose { inbound in
            await withDiscardingTaskGroup { group in
                do {
                    for try await connection in inbound {
                        group.addTask { await self.serve(connection, lookup: lookup, onError: onError, handler: handler) }
                    }
                } catch {
                    onError(.network("accepting: \(error)"))
                }
            }
        }
    }

    private func serve(
        _ connection: NIOAsyncChannel<ByteBuffer, ByteBuffer>,
        lookup: @escaping @Sendable (EndpointSelector) async -> UncheckedPrivateKey?,
        onError: @Sendable (PeerError) -> Void,
        handler: @Sendable (SecureChannel) async throws -> Void
    ) async {
        let admitted = counters.withLock { counters in
            counters.accepted += 1
            counters.activeConnections += 1
            guard counters.handshaking < maxConcurrentHandshakes else {
                counters.failedHandshakes += 1
                return false
            }
            counters.handshaking += 1
            return true
        }
        defer { counters.withLock { $0.activeConnections -= 1 } }
        guard admitted else {
            try? await connection.executeThenClose { _, _ in }
            return
        }
        let handshaking = Mutex(true)
        let endHandshake = {
            if handshaking.withLock({ value in defer { value = false }; return value }) {
                self.counters.withLock { $0.handshaking -= 1 }
            }
        }
        do {
            try await SecureChannel.accept(
                connection, lookup: { await lookup($0)?.key }, hello: hello, limits: limits,
                onHandshake: endHandshake
            ) { secure in
                do {
                    try await handler(secure)
                } catch {
                    counters.withLock { $0.failedSessions += 1 }
                    throw error
                }
            }
        } catch {
            let inHandshake = handshaking.withLock { $0 }
            if inHandshake { counters.withLock { $0.failedHandshakes += 1 } }
            onError(error as? PeerError ?? .closed("\(error)"))
        }
        endHandshake()
    }
}

/// An endpoint's private key handed across tasks: swift-crypto 3.12 does not mark its key types
/// Sendable, but they are immutable once created.
public struct UncheckedPrivateKey: @unchecked Sendable {
    public let key: Curve25519.KeyAgreement.PrivateKey
    public init(_ key: Curve25519.KeyAgreement.PrivateKey) { self.key = key }
}
