public import NIOCore
public import S2SProtocol

/// Sets up the channel pipeline of a peer connection, the same on both sides:
///
/// `socket ⇄ NoiseEncryptHandler ⇄ NoiseFrameDecoder ⇄ SessionTimerHandler ⇄ NIOAsyncChannel`
///
/// Inbound, the decoder cuts frames (and the receiver's preamble) and the timer handler resets the
/// idle timer on each; frames are decrypted by ``SecureChannel`` in the receiving task. Outbound,
/// records are sealed and framed by the encrypt handler on the event loop.
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
        channel.eventLoop.preconditionInEventLoop()
        try channel.syncOptions?.setOption(.recvAllocator, value: receiveAllocator)
        let operations = channel.pipeline.syncOperations
        try operations.addHandler(NoiseEncryptHandler())
        try operations.addHandler(NoiseFrameDecoder(expectPreamble: expectPreamble, limits: limits))
        try operations.addHandler(SessionTimerHandler(limits: limits))
        return try NIOAsyncChannel(
            wrappingChannelSynchronously: channel,
            configuration: .init(isOutboundHalfClosureEnabled: true))
    }
}
