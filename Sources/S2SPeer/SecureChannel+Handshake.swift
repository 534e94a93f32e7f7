public import Crypto
public import NIOCore
public import NIOPosix
public import S2SProtocol
#if canImport(Glibc)
import Glibc
#endif

extension SecureChannel {
    /// Sender side: connects to `address`, writes the preamble for `endpointKey` and handshake
    /// message 1 with `hello`, reads message 2, and runs `body` with the secure channel. The
    /// connection is closed when `body` returns or throws; call ``close()`` first to end the
    /// session gracefully.
    ///
    /// Connecting and the handshake together must finish within `limits.handshakeTimeout`. A
    /// receiver that does not serve `endpointKey` closes without a word, which surfaces here as
    /// ``PeerError/handshakeFailed(_:)``.
    public static func connect<Result: Sendable>(
        to address: SocketAddress,
        endpointKey: Curve25519.KeyAgreement.PublicKey,
        hello: Hello? = nil,
        cipher: NoiseCipher = .chaChaPoly,
        limits: ProtocolLimits = .default,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        _ body: (SecureChannel) async throws -> Result
    ) async throws -> Result {
        let hello = hello ?? Hello(limits: limits)
        let asyncChannel: NIOAsyncChannel<ByteBuffer, ByteBuffer>
        do {
            asyncChannel = try await ClientBootstrap(group: group)
                .connectTimeout(TimeAmount(limits.handshakeTimeout))
                .channelOption(.allowRemoteHalfClosure, value: true)
                .channelOption(.tcpOption(.tcp_nodelay), value: 1)
                .connect(to: address) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try PeerPipeline.configure(channel, expectPreamble: false, limits: limits)
                    }
                }
        } catch {
            if case .timeout = peerError(error, context: "") { throw PeerError.timeout(.handshake) }
            throw PeerError.network("connecting to \(NetworkErrorText.describe(address)): \(NetworkErrorText.describe(error))")
        }
        return try await connect(paired: asyncChannel, endpointKey: endpointKey, hello: hello, cipher: cipher, limits: limits, body)
    }

    /// Sender side on a connection that is already open and configured by
    /// ``PeerPipeline/configure(_:expectPreamble:limits:)`` with `expectPreamble: false`, e.g. one
    /// that ``RelayConnector`` paired: writes the preamble and handshake message 1, reads message 2
    /// and runs `body`, exactly as ``connect(to:endpointKey:hello:limits:group:_:)`` does after
    /// connecting. The connection is closed when `body` returns or throws.
    public static func connect<Result: Sendable>(
        paired asyncChannel: NIOAsyncChannel<ByteBuffer, ByteBuffer>,
        endpointKey: Curve25519.KeyAgreement.PublicKey,
        hello: Hello? = nil,
        cipher: NoiseCipher = .chaChaPoly,
        limits: ProtocolLimits = .default,
        _ body: (SecureChannel) async throws -> Result
    ) async throws -> Result {
        let hello = hello ?? Hello(limits: limits)
        let key = UncheckedKey(endpointKey)
        return try await asyncChannel.executeThenClose { inbound, outbound in
            let secure = try await initiatorHandshake(
                channel: asyncChannel.channel, frames: InboundFrames(inbound), outbound: outbound,
                endpointKey: key, hello: hello, cipher: cipher, limits: limits)
            return try await body(secure)
        }
    }

    /// Sender side, by host name or address and port.
    public static func connect<Result: Sendable>(
        host: String,
        port: Int,
        endpointKey: Curve25519.KeyAgreement.PublicKey,
        hello: Hello? = nil,
        cipher: NoiseCipher = .chaChaPoly,
        limits: ProtocolLimits = .default,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        _ body: (SecureChannel) async throws -> Result
    ) async throws -> Result {
        let address: SocketAddress
        do {
            address = try SocketAddress.makeAddressResolvingHost(host, port: port)
        } catch {
            throw PeerError.network("resolving \(host): \(error)")
        }
        return try await connect(
            to: address, endpointKey: endpointKey, hello: hello, cipher: cipher, limits: limits, group: group, body)
    }

    /// Receiver side: on a connection set up by ``PeerPipeline/configure(_:expectPreamble:limits:)``
    /// with `expectPreamble: true`, reads the preamble, asks `lookup` for the selected endpoint's
    /// private key, runs the responder handshake with `hello`, calls `onHandshake` (e.g. to release
    /// a handshake slot), and runs `body` with the secure channel. `offersDirect`: whether the
    /// selected endpoint takes a direct path, answered in the HELLO to a sender that asks
    /// (``Hello/Feature/direct``). The connection is closed when
    /// `body` returns or throws.
    ///
    /// An unknown endpoint, a bad preamble or a failed handshake closes the connection without a
    /// word and throws. A sender HELLO of another version is answered, as docs/protocol.md says,
    /// by completing the handshake, REFUSE(version) and a close; this throws
    /// ``PeerError/handshakeFailed(_:)`` too.
    public static func accept<Result: Sendable>(
        _ connection: NIOAsyncChannel<ByteBuffer, ByteBuffer>,
        lookup: (EndpointSelector) async -> Curve25519.KeyAgreement.PrivateKey?,
        hello: Hello? = nil,
        offersDirect: (EndpointSelector) async -> Bool = { _ in false },
        limits: ProtocolLimits = .default,
        onHandshake: () -> Void = {},
        _ body: (SecureChannel) async throws -> Result
    ) async throws -> Result {
        let hello = hello ?? Hello(limits: limits)
        return try await connection.executeThenClose { inbound, outbound in
            let frames = InboundFrames(inbound)
            let preamble = try await readUnit(frames, during: "reading the preamble")
            let selector: EndpointSelector
            do throws(ProtocolError) {
                selector = try EndpointSelector.decode(preamble.readableBytesView)
            } catch {
                throw PeerError.protocolError(error)
            }
            guard let privateKey = await lookup(selector) else { throw PeerError.unknownEndpoint }
            let secure = try await responderHandshake(
                channel: connection.channel, frames: frames, outbound: outbound,
                staticKey: UncheckedKey(privateKey), hello: hello, offersDirect: await offersDirect(selector), cipher: selector.cipher,
                limits: limits)
            onHandshake()
            return try await body(secure)
        }
    }

    // MARK: Handshake steps

    private static func initiatorHandshake(
        channel: any Channel,
        frames: InboundFrames,
        outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>,
        endpointKey: UncheckedKey<Curve25519.KeyAgreement.PublicKey>,
        hello: Hello,
        cipher: NoiseCipher,
        limits: ProtocolLimits
    ) async throws(PeerError) -> SecureChannel {
        var handshake: HandshakeState
        let message1: [UInt8]
        let selector: EndpointSelector
        do {
            selector = try EndpointSelector(endpointKey: endpointKey.key, cipher: cipher)
        } catch {
            throw .protocolError(error)
        }
        // A ChaChaPoly handshake from a CPU that runs AES-GCM asks for AES-GCM transport keys.
        var hello = hello
        hello.flags &= ~Hello.Feature.aesGCMTransport
        if cipher == .chaChaPoly, NoiseCipher.hasHardwareAES { hello.flags |= Hello.Feature.aesGCMTransport }
        do {
            handshake = try HandshakeState(
                protocolName: .s2s(cipher), role: .initiator, prologue: EndpointSelector.magic(for: cipher),
                remoteStaticKey: endpointKey.key)
            message1 = try handshake.writeMessage(payload: hello.encoded())
        } catch {
            throw .noise(error)
        }
        var first = channel.allocator.buffer(capacity: EndpointSelector.encodedLength + 2 + message1.count)
        first.writeBytes(selector.encoded())
        first.writeInteger(UInt16(message1.count))
        first.writeBytes(message1)
        do {
            try await write(first, to: outbound, during: "sending handshake message 1")
        } catch .closed(let reason) {
            // Closed before the receiver read a byte: refused for load, never an endpoint verdict.
            throw .network("\(reason) (the receiver refused the connection before reading it; try again later)")
        }

        let message2: ByteBuffer
        do {
            message2 = try await readUnit(frames, during: "waiting for handshake message 2")
        } catch .closed {
            throw .handshakeFailed(
                "the receiver closed the connection (wrong endpoint ID, no such endpoint, or it refused the handshake)")
        } catch .network(let reason) {
            // A reset, not a close: the receiver was busy (docs/protocol.md, "Concurrent handshakes").
            throw .network(
                "\(reason) (the receiver was busy: it resets connections while too many handshakes are unfinished, "
                    + "or one that runs out of time; try again later)")
        }
        let peerHello: Hello
        let ciphers: (send: CipherState, receive: CipherState)
        do {
            let payload = try handshake.readMessage(Array(message2.readableBytesView))
            peerHello = try decodeHello(payload)
            ciphers = try handshake.split(transportCipher: transportCipher(announced: cipher, ours: hello, theirs: peerHello))
        } catch let error as PeerError {
            channel.close(promise: nil)
            throw error
        } catch {
            channel.close(promise: nil)
            throw .handshakeFailed("handshake message 2: \(error)")
        }
        let sealer = try await startTransport(channel: channel, sendCipher: ciphers.send)
        return SecureChannel(
            channel: channel, frames: frames, outbound: outbound, sealer: sealer, receiveCipher: ciphers.receive,
            peerHello: peerHello, hello: hello, limits: limits, endpointKey: endpointKey.key, cipher: cipher)
    }

    private static func responderHandshake(
        channel: any Channel,
        frames: InboundFrames,
        outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>,
        staticKey: UncheckedKey<Curve25519.KeyAgreement.PrivateKey>,
        hello: Hello,
        offersDirect: Bool = false,
        cipher: NoiseCipher,
        limits: ProtocolLimits
    ) async throws(PeerError) -> SecureChannel {
        var handshake: HandshakeState
        do {
            handshake = try HandshakeState(
                protocolName: .s2s(cipher), role: .responder, prologue: EndpointSelector.magic(for: cipher),
                staticKey: staticKey.key)
        } catch {
            throw .noise(error)
        }
        let message1 = try await readUnit(frames, during: "waiting for handshake message 1")
        let payload: [UInt8]
        do {
            payload = try handshake.readMessage(Array(message1.readableBytesView))
        } catch {
            throw .handshakeFailed("handshake message 1: \(error)")
        }
        var peerHello: Hello?
        var helloError: PeerError?
        do {
            peerHello = try decodeHello(payload)
        } catch .handshakeFailed(let reason) where Self.isUnsupportedVersion(payload) {
            helloError = .handshakeFailed(reason)
        }
        // The direct bit answers a sender that asked, and only where the endpoint allows it.
        var reply = hello
        reply.flags &= ~(Hello.Feature.direct | Hello.Feature.aesGCMTransport)
        if offersDirect, peerHello?.has(Hello.Feature.direct) == true { reply.flags |= Hello.Feature.direct }
        // AES-GCM transport keys for a sender that asked, from a CPU that runs AES-GCM too.
        if cipher == .chaChaPoly, NoiseCipher.hasHardwareAES, peerHello?.has(Hello.Feature.aesGCMTransport) == true {
            reply.flags |= Hello.Feature.aesGCMTransport
        }
        let message2: [UInt8]
        let ciphers: (send: CipherState, receive: CipherState)
        do {
            message2 = try handshake.writeMessage(payload: reply.encoded())
            ciphers = try handshake.split(transportCipher: transportCipher(announced: cipher, ours: reply, theirs: peerHello ?? hello))
        } catch {
            throw .noise(error)
        }
        var frame = channel.allocator.buffer(capacity: 2 + message2.count)
        frame.writeInteger(UInt16(message2.count))
        frame.writeBytes(message2)
        do {
            try await write(frame, to: outbound, during: "sending handshake message 2")
        } catch .closed(let reason) {
            // The connection may have ended on this side's timer while the endpoint was looked
            // up (the inbound stream ended with that error): say so, as a close and not as a
            // timeout, for the sender had done its part and earns no penalty (`PeerServer`).
            if case .timeout? = await Self.endingError(of: frames) {
                throw .closed("handshake timeout: this side did not answer handshake message 1 in time")
            }
            throw .closed(reason)
        }
        let sealer = try await startTransport(channel: channel, sendCipher: ciphers.send)
        guard let peerHello else {
            // Another version: the handshake is complete, so the sender can read why we close.
            let secure = SecureChannel(
                channel: channel, frames: frames, outbound: outbound, sealer: sealer, receiveCipher: ciphers.receive,
                peerHello: hello, hello: hello, limits: limits, endpointKey: staticKey.key.publicKey, cipher: cipher)
            try? await secure.send(.refuse(.version))
            await secure.close()
            throw helloError ?? .handshakeFailed("unsupported HELLO")
        }
        return SecureChannel(
            channel: channel, frames: frames, outbound: outbound, sealer: sealer, receiveCipher: ciphers.receive,
            peerHello: peerHello, hello: reply, limits: limits, endpointKey: staticKey.key.publicKey, cipher: cipher)
    }

    /// The transport's cipher: AES-GCM after a ChaChaPoly handshake when both HELLOs set
    /// `Hello.Feature.aesGCMTransport` (docs/protocol.md, "Ciphers"), else the announced one.
    private static func transportCipher(announced: NoiseCipher, ours: Hello, theirs: Hello) -> NoiseCipher {
        let both = ours.has(Hello.Feature.aesGCMTransport) && theirs.has(Hello.Feature.aesGCMTransport)
        return announced == .chaChaPoly && both ? .aesGCM : announced
    }

    /// Whether a HELLO payload names another version than ours (and so deserves REFUSE(version)).
    private static func isUnsupportedVersion(_ payload: [UInt8]) -> Bool {
        if case .unsupportedVersion = Result(catching: { () throws(ProtocolError) in try Hello.decode(payload) })
            .error
        {
            return true
        }
        return false
    }

    private static func decodeHello(_ payload: [UInt8]) throws(PeerError) -> Hello {
        do {
            return try Hello.decode(payload)
        } catch {
            throw .handshakeFailed("peer HELLO: \(error)")
        }
    }

    /// Sets up the sealing of this side's transport messages, tells the pipeline (which stops the
    /// handshake deadline), and returns the sealer.
    private static func startTransport(channel: any Channel, sendCipher: CipherState) async throws(PeerError) -> FrameSealer {
        let sealer = FrameSealer(channel: channel, cipher: sendCipher)
        do {
            try await channel.triggerUserOutboundEvent(TransportStart(sealer: sealer)).get()
            return sealer
        } catch {
            throw peerError(error, context: "starting the transport phase")
        }
    }

    private static func write(
        _ buffer: ByteBuffer, to outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>, during context: String
    ) async throws(PeerError) {
        do {
            try await outbound.write(buffer)
        } catch {
            if isReset(error) { throw .network("\(context): the peer reset the connection") }
            throw .closed("\(context): \(error)")
        }
    }

    /// The error a closed connection's inbound stream ended with, if any (read to its end).
    private static func endingError(of frames: InboundFrames) async -> PeerError? {
        do {
            while try await frames.next() != nil {}
        } catch {
            return error as? PeerError
        }
        return nil
    }

    /// Whether `error` is the socket's report of a reset (TCP RST). A receiver resets a connection
    /// it refuses for load before reading it, or whose handshake ran out of time, and closes with
    /// a FIN one it refuses for its preamble, so a sender can tell a passing refusal (``PeerError/network(_:)``) from an unknown
    /// endpoint (``PeerError/handshakeFailed(_:)``).
    private static func isReset(_ error: any Error) -> Bool {
        guard let error = error as? IOError else { return false }
        return error.errnoCode == ECONNRESET || error.errnoCode == EPIPE
    }

    private static func readUnit(
        _ frames: InboundFrames, during context: String
    ) async throws(PeerError) -> ByteBuffer {
        let unit: ByteBuffer?
        do {
            unit = try await frames.next()
        } catch {
            if isReset(error) { throw .network("\(context): the peer reset the connection") }
            throw peerError(error, context: context)
        }
        guard let unit else { throw .closed("the peer closed the connection \(context)") }
        return unit
    }
}

/// Carries a swift-crypto key across an isolation boundary: swift-crypto 3.12 does not mark its
/// key types Sendable, but they are immutable once created.
struct UncheckedKey<Key>: @unchecked Sendable {
    let key: Key
    init(_ key: Key) { self.key = key }
}

extension Result {
    /// The failure, if any.
    fileprivate var error: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}
