import NIOCore
import S2SProtocol

/// Seals and frames outgoing records on the channel's event loop, so that the order in which
/// messages are encrypted is the order in which they reach the socket, however many tasks send.
///
/// Before ``TransportStart`` arrives the handler passes bytes through unchanged (the preamble and
/// the handshake messages, which ``SecureChannel`` frames itself). Afterwards each written buffer
/// is one record in plaintext and leaves as `u16 length ‖ ciphertext ‖ tag`.
///
/// Flushes are coalesced in transport: a flush is carried out once the event loop has run the
/// tasks already queued, so records written by tasks in quick succession (a DATA and a FILE_END
/// per small file, a run of FILE_RESULTs) leave in one `writev` instead of one system call each.
final class NoiseEncryptHandler: ChannelOutboundHandler {
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var cipher: CipherState?
    private var flushScheduled = false

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let plaintext = unwrapOutboundIn(data)
        guard var cipher else {
            context.write(data, promise: promise)
            return
        }
        // One buffer per frame, sealed into in place: length, then ciphertext ‖ tag.
        let length = cipher.ciphertextLength(forPlaintextLength: plaintext.readableBytes)
        var frame = context.channel.allocator.buffer(capacity: 2 + length)
        frame.writeInteger(UInt16(truncatingIfNeeded: length))
        let result: Result<Int, NoiseError> = plaintext.withUnsafeReadableBytes { bytes in
            Result { () throws(NoiseError) in
                try frame.writeWithUnsafeMutableBytes(minimumWritableBytes: length) { output throws(NoiseError) in
                    try cipher.encrypt(bytes, into: output)
                }
            }
        }
        self.cipher = cipher
        switch result {
        case .success:
            context.write(wrapOutboundOut(frame), promise: promise)
        case .failure(let error):
            promise?.fail(PeerError.noise(error))
        }
    }

    func flush(context: ChannelHandlerContext) {
        guard cipher != nil else {
            context.flush()
            return
        }
        guard !flushScheduled else { return }
        flushScheduled = true
        // Queued behind every task already waiting, so the writes they carry join this flush.
        context.eventLoop.assumeIsolated().execute {
            self.flushScheduled = false
            context.flush()
        }
    }

    /// A close carries out a flush still scheduled first: closing discards what is not flushed
    /// (a REFUSE or CANCEL written just before the close).
    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        if flushScheduled { context.flush() }
        context.close(mode: mode, promise: promise)
    }

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        guard let start = event as? TransportStart else {
            context.triggerUserOutboundEvent(event, promise: promise)
            return
        }
        cipher = start.sendCipher
        promise?.succeed()
    }
}
