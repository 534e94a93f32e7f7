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
    /// Reused for every message so that sealing allocates nothing in the steady state.
    private var scratch: [UInt8] = []

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let plaintext = unwrapOutboundIn(data)
        guard var cipher else {
            context.write(data, promise: promise)
            return
        }
        scratch.removeAll(keepingCapacity: true)
        scratch.append(0)
        scratch.append(0)
        let result: Result<Void, NoiseError> = plaintext.withUnsafeReadableBytes { bytes in
            Result { () throws(NoiseError) in try cipher.encrypt(bytes, appendingTo: &scratch) }
        }
        self.cipher = cipher
        switch result {
        case .success:
            let length = scratch.count - 2
            scratch[0] = UInt8(truncatingIfNeeded: length >> 8)
            scratch[1] = UInt8(truncatingIfNeeded: length)
            var frame = context.channel.allocator.buffer(capacity: scratch.count)
            frame.writeBytes(scratch)
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
