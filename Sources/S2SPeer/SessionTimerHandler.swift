import NIOCore
import S2SProtocol

/// The connection's timers (docs/protocol.md, "Timeouts and keepalive"), run on its event loop:
///
/// - handshake: from the moment the channel is active until ``TransportStart``; on expiry the
///   connection is reset without a word.
/// - preamble (receiver, optional): from ``ReadingStarted`` until the first unit (the 37-byte
///   preamble) has come through ``NoiseFrameDecoder``; on expiry the connection is reset without
///   a word. Shorter than the handshake timeout, so that a silent connection holds
///   a handshake slot only briefly (``HandshakeAdmission``).
/// - idle: after the handshake, reset by every *complete* frame (this handler sits after
///   ``NoiseFrameDecoder``), so a peer trickling one byte at a time is still cut off. On expiry
///   CANCEL(timeout) is sent and the connection closed. The timer pauses while this side does not
///   read because its own consumer is behind (NIO back-pressure withholds `read()`), so a slow
///   reader does not blame the peer.
/// - keepalive: after the handshake, a KEEPALIVE is written whenever nothing was written for the
///   keepalive interval.
///
/// An expiry is reported as ``PeerError/timeout(_:)`` through `errorCaught`, which ends the
/// inbound stream of the `NIOAsyncChannel` with that error.
final class SessionTimerHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let handshakeTimeout: TimeAmount
    private let preambleTimeout: TimeAmount?
    private let idleTimeout: TimeAmount
    private let keepaliveInterval: TimeAmount
    private var handshakeTimer: Scheduled<Void>?
    private var preambleTimer: Scheduled<Void>?
    private var preambleSeen = false
    private var idleTimer: Scheduled<Void>?
    private var keepaliveTimer: Scheduled<Void>?
    private var lastWrite: NIODeadline = .now()
    private var idleDeadline: NIODeadline = .now()
    /// The idle time left while reading is paused (between a read's end and the next `read()`,
    /// which back-pressure withholds while the consumer is behind); `nil` while reading.
    private var idleRemaining: TimeAmount?
    private var inTransport = false
    private var expired = false
    /// Seals the KEEPALIVE and CANCEL this handler writes (set by ``TransportStart``).
    private var sealer: FrameSealer?

    /// - Parameter preambleTimeout: the preamble deadline; `nil`: none (the sender side, relays).
    init(limits: ProtocolLimits, preambleTimeout: Duration? = nil) {
        handshakeTimeout = TimeAmount(limits.handshakeTimeout)
        self.preambleTimeout = preambleTimeout.map { TimeAmount($0) }
        idleTimeout = TimeAmount(limits.idleTimeout)
        keepaliveInterval = TimeAmount(limits.keepaliveInterval)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { startHandshakeTimer(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        startHandshakeTimer(context: context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        cancelAll()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        cancelAll()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if !preambleSeen {
            preambleSeen = true
            preambleTimer?.cancel()
            preambleTimer = nil
        }
        idleRemaining = nil
        if inTransport, !expired {
            idleDeadline = .now() + idleTimeout
            armIdle(context: context)
        }
        context.fireChannelRead(data)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        // Pause until the next read() is requested: at once if the consumer keeps up, later if
        // back-pressure holds it back. The deadline itself moves only with complete frames.
        // Before the handshake ends there is no deadline yet, but the pause counts too: the frames
        // that follow the handshake may fill the consumer's buffer before the timer starts.
        if !expired {
            idleRemaining = inTransport ? idleDeadline - .now() : idleTimeout
        }
        context.fireChannelReadComplete()
    }

    func read(context: ChannelHandlerContext) {
        if let remaining = idleRemaining, !expired {
            idleRemaining = nil
            if inTransport {
                idleDeadline = .now() + remaining
                armIdle(context: context)
            }
        }
        context.read()
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        lastWrite = .now()
        context.write(data, promise: promise)
    }

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        if let start = event as? TransportStart, !inTransport {
            inTransport = true
            sealer = start.sealer
            handshakeTimer?.cancel()
            handshakeTimer = nil
            preambleTimer?.cancel()
            preambleTimer = nil
            if idleRemaining != nil {
                // Reading is paused: the whole timeout is left when it resumes (read()).
                idleRemaining = idleTimeout
            } else {
                idleDeadline = .now() + idleTimeout
                armIdle(context: context)
            }
            scheduleKeepalive(context: context, in: keepaliveInterval)
        }
        context.triggerUserOutboundEvent(event, promise: promise)
    }

    private func startHandshakeTimer(context: ChannelHandlerContext) {
        guard handshakeTimer == nil, !inTransport, !expired else { return }
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        handshakeTimer = context.eventLoop.scheduleTask(in: handshakeTimeout) {
            let (handler, context) = loopBound.value
            handler.expire(.handshake, context: context)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ReadingStarted { startPreambleTimer(context: context) }
        context.fireUserInboundEventTriggered(event)
    }

    private func startPreambleTimer(context: ChannelHandlerContext) {
        guard let preambleTimeout, !preambleSeen, preambleTimer == nil, !inTransport, !expired else { return }
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        preambleTimer = context.eventLoop.scheduleTask(in: preambleTimeout) {
            let (handler, context) = loopBound.value
            handler.expire(.preamble, context: context)
        }
    }

    /// Makes sure a timer will look at ``idleDeadline``. Frames and pauses only move the deadline;
    /// the timer, when it fires, compares and sets itself again for a deadline that moved
    /// (``idleDue(context:)``). Rescheduling it for every frame cost a timer's allocation and two
    /// updates of the event loop's timer queue per record, a few per cent of the CPU time of a
    /// tree of small files.
    private func armIdle(context: ChannelHandlerContext) {
        guard idleTimer == nil else { return }
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        idleTimer = context.eventLoop.scheduleTask(deadline: idleDeadline) {
            let (handler, context) = loopBound.value
            handler.idleDue(context: context)
        }
    }

    /// The idle timer fired: expires if the deadline has passed while reading; sets itself again
    /// for a deadline that frames moved; while reading is paused it waits for `read()` to arm it.
    private func idleDue(context: ChannelHandlerContext) {
        idleTimer = nil
        guard !expired, idleRemaining == nil else { return }
        if NIODeadline.now() < idleDeadline {
            armIdle(context: context)
        } else {
            expire(.idle, context: context)
        }
    }

    private func scheduleKeepalive(context: ChannelHandlerContext, in delay: TimeAmount) {
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        keepaliveTimer = context.eventLoop.scheduleTask(in: delay) {
            let (handler, context) = loopBound.value
            handler.keepaliveDue(context: context)
        }
    }

    private func keepaliveDue(context: ChannelHandlerContext) {
        guard !expired, context.channel.isActive, let sealer else { return }
        let quiet = NIODeadline.now() - lastWrite
        if quiet >= keepaliveInterval {
            // Through the sealer, queued behind the frames sealed before it; its write passes
            // this handler, which counts it as the last write.
            _ = sealer.write([context.channel.allocator.buffer(bytes: Record.keepalive.encoded())])
            scheduleKeepalive(context: context, in: keepaliveInterval)
        } else {
            scheduleKeepalive(context: context, in: keepaliveInterval - quiet)
        }
    }

    private func expire(_ timer: PeerError.Timer, context: ChannelHandlerContext) {
        guard !expired else { return }
        expired = true
        cancelAll()
        let channel = context.channel
        if timer == .idle, channel.isActive, let sealer {
            // Queued before the error is told: the task that learns of it may close the
            // connection at once, and its close must come after the CANCEL.
            let cancel = channel.allocator.buffer(bytes: Record.cancel(.timeout).encoded())
            sealer.write([cancel]).whenComplete { _ in channel.close(promise: nil) }
            context.fireErrorCaught(PeerError.timeout(timer))
            return
        }
        context.fireErrorCaught(PeerError.timeout(timer))
        switch timer {
        case .handshake, .preamble:
            // Reset, not closed: running out of time is no verdict on the endpoint, and a sender
            // takes an orderly close during the handshake for "no such endpoint" (docs/protocol.md,
            // "Concurrent handshakes") while it retries after a reset.
            channel.closeWithReset()
        default:
            context.close(promise: nil)
        }
    }

    private func cancelAll() {
        handshakeTimer?.cancel()
        preambleTimer?.cancel()
        preambleTimer = nil
        idleTimer?.cancel()
        keepaliveTimer?.cancel()
        handshakeTimer = nil
        idleTimer = nil
        keepaliveTimer = nil
    }
}
