import NIOCore

/// Coalesces flushes once the transport phase has started: a flush is carried out once the event
/// loop has run the tasks already queued, so frames queued by tasks in quick succession (a DATA
/// and a FILE_END per small file, a run of FILE_RESULTs, a KEEPALIVE) leave in one `writev`
/// instead of one system call each.
///
/// Before ``TransportStart`` every flush passes at once (the preamble and the handshake messages,
/// which the other side waits for).
final class FlushCoalescer: ChannelOutboundHandler {
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var inTransport = false
    private var flushScheduled = false

    func flush(context: ChannelHandlerContext) {
        guard inTransport else {
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
        guard event is TransportStart else {
            context.triggerUserOutboundEvent(event, promise: promise)
            return
        }
        inTransport = true
        promise?.succeed()
    }
}
