import NIOCore

/// The inbound side of a peer connection: the frames (and, on the receiver, the preamble) that
/// ``NoiseFrameDecoder`` cut, as NIO's async iterator delivers them.
///
/// NIO's iterator must not be used by two tasks at once, and is therefore not `Sendable`. This box
/// is `@unchecked Sendable` because its users guarantee exactly that: the handshake runs in one
/// task before a ``SecureChannel`` exists, and afterwards ``SecureChannel`` admits one waiting
/// `receive()` or `close()` at a time (its `receiving` flag, checked on the actor).
final class InboundFrames: @unchecked Sendable {
    private var iterator: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator

    init(_ stream: NIOAsyncChannelInboundStream<ByteBuffer>) {
        iterator = stream.makeAsyncIterator()
    }

    /// The next unit, `nil` at the end of the stream; throws what the pipeline reported.
    func next() async throws -> ByteBuffer? {
        try await iterator.next()
    }
}
