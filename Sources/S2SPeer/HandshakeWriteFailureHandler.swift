import NIOCore

/// Ends the inbound stream with the socket's error when a handshake message cannot be written.
///
/// NIO closes a channel whose write fails and fails the write's promise, but tells no inbound
/// handler, so the stream would end as if the peer had closed in order. In the handshake that is
/// the difference between "no such endpoint" (a close) and "busy, try again" (a reset: a receiver
/// under a flood resets connections, and its RST can beat the sender's first write; docs/protocol.md,
/// "Concurrent handshakes"). After ``TransportStart`` writes pass untouched: no promise per record.
final class HandshakeWriteFailureHandler: ChannelOutboundHandler {
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var inTransport = false

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard !inTransport else {
            context.write(data, promise: promise)
            return
        }
        let written = promise ?? context.eventLoop.makePromise()
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        written.futureResult.whenFailure { error in
            // Only the socket's own errors: a close of this side's fails pending writes too.
            guard error is IOError else { return }
            loopBound.value.fireErrorCaught(error)
        }
        context.write(data, promise: written)
    }

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        if event is TransportStart { inTransport = true }
        context.triggerUserOutboundEvent(event, promise: promise)
    }
}
