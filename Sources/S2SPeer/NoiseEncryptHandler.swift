import NIOCore
import S2SProtocol

/// Seals and frames outgoing records on the channel's event loop, so that the order in which
/// messages are encrypted is the order in which they reach the socket, however many tasks send.
///
/// Before ``TransportStart`` arrives the handler passes bytes through unchanged (the preamble and
/// the handshake messages, which ``SecureChannel`` frames itself). Afterwards each written buffer
/// is one record in plaintext and leaves as `u16 length ‖ ciphertext ‖ tag`.
final class NoiseEncryptHandler: ChannelOutboundHandler {
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var cipher: CipherState?

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

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        guard let start = event as? TransportStart else {
            context.triggerUserOutboundEvent(event, promise: promise)
            return
        }
        cipher = start.sendCipher
        promise?.succeed()
    }
}
