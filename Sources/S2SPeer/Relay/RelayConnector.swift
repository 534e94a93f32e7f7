public import NIOCore
public import NIOPosix
public import S2SProtocol
#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Opens a connection through a transit relay and waits until the relay pairs it
/// (docs/protocol.md, "Relay route"). The result is an ordinary peer connection: the peer
/// pipeline (``PeerPipeline``) is added only after `ok\n`, so the handshake timer starts at
/// pairing, and the session's preamble and Noise handshake then run exactly as on the direct route.
///
/// The waiting connection costs nothing while idle: no timer on this side, TCP keepalive
/// (``keepaliveIdle``) to notice a relay that vanished.
public enum RelayConnector {
    /// Connects to `relay`, asks it to relay `token` for `side`, and waits for pairing: at most
    /// `pairingTimeout` (`nil`: until paired, the relay closes, or the task is cancelled; the
    /// receiver's waiting connection). Connecting itself must succeed within `connectTimeout`.
    ///
    /// `onWaiting` is called once the connection to the relay is open and the request sent.
    ///
    /// - Returns: the paired connection, configured by ``PeerPipeline/configure(_:expectPreamble:limits:)``
    ///   for the receiver (`side == .receiver`, reading the preamble) or the sender. The caller
    ///   owns it: pass it to ``SecureChannel/accept(_:lookup:hello:limits:onHandshake:_:)`` or
    ///   ``SecureChannel/connect(paired:endpointKey:hello:limits:_:)``, which close it.
    /// - Throws: ``RelayError``; `CancellationError` when the task is cancelled while waiting.
    public static func connect(
        to relay: RelayAddress,
        token: RelayToken,
        side: RelaySide,
        limits: ProtocolLimits = .default,
        connectTimeout: Duration = .seconds(10),
        pairingTimeout: Duration?,
        onWaiting: @Sendable () -> Void = {},
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws -> NIOAsyncChannel<ByteBuffer, ByteBuffer> {
        let name = relay.description
        let channel: any Channel
        let paired: EventLoopFuture<Void>
        do {
            (channel, paired) = try await ClientBootstrap(group: group)
                .connectTimeout(TimeAmount(connectTimeout))
                .channelOption(.allowRemoteHalfClosure, value: true)
                .channelOption(.tcpOption(.tcp_nodelay), value: 1)
                .channelOption(.socketOption(.so_keepalive), value: 1)
                .channelOption(.tcpOption(NIOBSDSocket.Option(rawValue: TCP_KEEPIDLE)), value: Self.keepaliveIdle)
                .channelOption(.tcpOption(NIOBSDSocket.Option(rawValue: TCP_KEEPINTVL)), value: Self.keepaliveInterval)
                .channelOption(.tcpOption(NIOBSDSocket.Option(rawValue: TCP_KEEPCNT)), value: Self.keepaliveProbes)
                .connect(host: relay.host, port: relay.port) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let promise = channel.eventLoop.makePromise(of: Void.self)
                        try channel.pipeline.syncOperations.addHandler(
                            RelayHandshakeHandler(token: token, side: side, relay: name, paired: promise),
                            name: handlerName)
                        return (channel, promise.futureResult)
                    }
                }
        } catch {
            throw RelayError.unreachable(relay: name, reason: "\(error)")
        }
        onWaiting()
        let timedOut = Mutex(false)
        let deadline = pairingTimeout.map { timeout in
            channel.eventLoop.scheduleTask(in: TimeAmount(timeout)) {
                timedOut.withLock { $0 = true }
                channel.close(promise: nil)
            }
        }
        do {
            try await withTaskCancellationHandler {
                try await paired.get()
            } onCancel: {
                channel.close(promise: nil)
            }
        } catch {
            deadline?.cancel()
            channel.close(promise: nil)
            try Task.checkCancellation()
            if timedOut.withLock({ $0 }) { throw RelayError.notPaired(relay: name) }
            throw error as? RelayError ?? .closedBeforePairing(relay: name)
        }
        deadline?.cancel()
        do {
            return try await channel.eventLoop.submit {
                let connection = try PeerPipeline.configure(channel, expectPreamble: side == .receiver, limits: limits)
                // Hands the bytes that came after ok to the peer pipeline, which is now in place.
                channel.pipeline.syncOperations.removeHandler(name: handlerName, promise: nil)
                return connection
            }.get()
        } catch {
            channel.close(promise: nil)
            throw RelayError.closedBeforePairing(relay: name)
        }
    }

    static let handlerName = "s2s.relay-handshake"

    /// TCP keepalive on relay connections: the first probe after 60 s of silence, then every
    /// 15 s, 4 unanswered probes drop the connection. A relay host that vanished without a FIN or
    /// reset is noticed within about two minutes (the kernel's default would take over two
    /// hours); the probes cost no wake-up of the daemon.
    static let keepaliveIdle: SocketOptionValue = 60
    static let keepaliveInterval: SocketOptionValue = 15
    static let keepaliveProbes: SocketOptionValue = 4
}
