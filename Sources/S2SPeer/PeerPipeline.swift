public import NIOCore
public import S2SProtocol

/// Sets up the channel pipeline of a peer connection, the same on both sides:
///
/// `socket ⇄ FlushCoalescer ⇄ NoiseFrameDecoder ⇄ SessionTimerHandler ⇄ HandshakeWriteFailureHandler ⇄ NIOAsyncChannel`
///
/// Inbound, the decoder cuts frames (and the receiver's preamble) and the timer handler resets the
/// idle timer on each; frames are decrypted by ``SecureChannel`` in the receiving task. Outbound,
/// records arrive sealed and framed (``FrameSealer``, in the task that writes them), and the
/// coalescer joins the flushes of writes queued together. A handshake message that cannot be
/// written ends the inbound stream with the socket's error, not as an orderly close.
public enum PeerPipeline {
    /// Reads of up to 256 KiB: NIO's default of 64 KiB is less than one full frame (64 KiB of
    /// data plus headers), so every frame would straddle two reads and be copied to be whole.
    static let receiveAllocator = AdaptiveRecvByteBufferAllocator(minimum: 1024, initial: 16 * 1024, maximum: 256 * 1024)

    /// Adds the handlers to `channel` (on its event loop) and wraps it for async use.
    ///
    /// - Parameters:
    ///   - expectPreamble: `true` on the receiver side, which reads the 37-byte preamble first.
    ///   - limits: this side's max record (frame limit) and timeouts.
    public static func configure(
        _ channel: any Channel, expectPreamble: Bool, limits: ProtocolLimits
    ) throws -> NIOAsyncChannel<ByteBuffer, ByteBuffer> {
        try addHandlers(channel, expectPreamble: expectPreamble, limits: limits)
        return try wrap(channel)
    }

    /// Adds the handlers to `channel` (on its event loop), without wrapping it: ``PeerServer``
    /// wraps an accepted connection only in the task that serves it (see ``AcceptedConnection``).
    ///
    /// - Parameter preambleTimeout: the receiver's deadline for the preamble (see
    ///   ``HandshakeAdmission/Policy/preambleTimeout``); `nil`: the handshake timeout alone.
    static func addHandlers(
        _ channel: any Channel, expectPreamble: Bool, limits: ProtocolLimits, preambleTimeout: Duration? = nil
    ) throws {
        channel.eventLoop.preconditionInEventLoop()
        PeerTransport.tune(channel)
        try channel.syncOptions?.setOption(.recvAllocator, value: receiveAllocator)
        let operations = channel.pipeline.syncOperations
        try operations.addHandler(FlushCoalescer())
        try operations.addHandler(NoiseFrameDecoder(expectPreamble: expectPreamble, limits: limits))
        try operations.addHandler(SessionTimerHandler(limits: limits, preambleTimeout: preambleTimeout))
        try operations.addHandler(HandshakeWriteFailureHandler())
    }

    /// Wraps a channel set up by ``addHandlers(_:expectPreamble:limits:preambleTimeout:)`` for
    /// async use (on its event loop). The result must reach `executeThenClose`: a
    /// `NIOAsyncChannel` released unused traps the process.
    static func wrap(_ channel: any Channel) throws -> NIOAsyncChannel<ByteBuffer, ByteBuffer> {
        try NIOAsyncChannel(
            wrappingChannelSynchronously: channel,
            configuration: .init(isOutboundHalfClosureEnabled: true))
    }
}
