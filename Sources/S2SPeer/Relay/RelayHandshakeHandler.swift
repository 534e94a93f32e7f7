import NIOCore

/// The relay's side of a connection before pairing (the magic-wormhole transit relay protocol):
/// on activation writes `please relay TOKEN for side SIDE\n` straight to the socket, then reads
/// until `ok\n`, which the relay sends once it has paired this connection with another.
///
/// It sits next to the socket, in front of the peer pipeline that is added after pairing. Bytes
/// that arrive after `ok\n` are the peer's (on the receiver: the sender's preamble) and are kept
/// until the handler is removed, then passed on, so the peer pipeline sees the stream from its
/// first byte. Anything other than `ok\n` (the relay says `bad handshake\n` or `impatient\n`
/// and closes) fails ``paired`` with ``RelayError/refused(relay:answer:)``; a close before it
/// fails with ``RelayError/closedBeforePairing(relay:)``.
final class RelayHandshakeHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    /// The relay's answer on pairing.
    static let ok = Array("ok\n".utf8)
    /// The most bytes of a refusal quoted in the error.
    static let maxQuoted = 64

    private let request: String
    private let relay: String
    private let paired: EventLoopPromise<Void>
    private var answer: [UInt8] = []
    private var leftover: ByteBuffer?
    /// `ok` arrived, or the handshake failed.
    private var done = false
    private var failed = false
    /// The peer's end of stream arrived after `ok`, before the handler was removed.
    private var inputClosed = false

    /// - Parameters:
    ///   - paired: succeeded on `ok\n`, failed on anything else or a close.
    init(token: RelayToken, side: RelaySide, relay: String, paired: EventLoopPromise<Void>) {
        request = "please relay \(token.hex) for side \(side.rawValue)\n"
        self.relay = relay
        self.paired = paired
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { sendRequest(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        sendRequest(context: context)
        context.fireChannelActive()
    }

    private var requested = false

    private func sendRequest(context: ChannelHandlerContext) {
        guard !requested else { return }
        requested = true
        context.writeAndFlush(NIOAny(context.channel.allocator.buffer(string: request)), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        if failed { return }
        if done {
            // After ok: the peer's bytes, held until the peer pipeline takes over.
            if leftover == nil {
                leftover = buffer
            } else {
                leftover?.writeBuffer(&buffer)
            }
            return
        }
        while let byte = buffer.readInteger(as: UInt8.self) {
            answer.append(byte)
            if answer.count <= Self.ok.count, answer == Array(Self.ok.prefix(answer.count)) {
                if answer.count == Self.ok.count {
                    done = true
                    if buffer.readableBytes > 0 { leftover = buffer }
                    paired.succeed()
                    return
                }
                continue
            }
            // Not ok: collect the rest of the line for the message, then give up.
            if byte == UInt8(ascii: "\n") || answer.count >= Self.maxQuoted {
                fail(context: context, .refused(relay: relay, answer: quoted()))
                return
            }
        }
    }

    /// The relay's end of stream: with half-closure allowed (the peer pipeline needs it) a FIN
    /// arrives as this event, not as `channelInactive`. Before `ok` it ends the attempt (the relay
    /// went away: it has no other way to say so); after `ok` it is the peer's and is passed on
    /// behind the bytes held for the peer pipeline.
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard let event = event as? ChannelEvent, event == .inputClosed else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        if failed { return }
        if done {
            inputClosed = true
            return
        }
        if answer.isEmpty {
            fail(context: context, .closedBeforePairing(relay: relay))
        } else {
            fail(context: context, .refused(relay: relay, answer: quoted()))
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !done {
            if answer.isEmpty {
                fail(context: context, .closedBeforePairing(relay: relay))
            } else {
                fail(context: context, .refused(relay: relay, answer: quoted()))
            }
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if !done {
            // Connected, then reset (e.g. the relay closed with our request unread): the same as
            // a close for the caller, who reconnects.
            fail(context: context, .closedBeforePairing(relay: relay))
        } else {
            context.fireErrorCaught(error)
        }
    }

    /// A channel that never became active (connecting failed) is torn down without
    /// `channelInactive`: the promise must still be completed.
    func handlerRemoved(context: ChannelHandlerContext) {
        if !done {
            done = true
            failed = true
            paired.fail(RelayError.closedBeforePairing(relay: relay))
        }
    }

    func removeHandler(context: ChannelHandlerContext, removalToken: ChannelHandlerContext.RemovalToken) {
        if let leftover {
            self.leftover = nil
            context.fireChannelRead(NIOAny(leftover))
            context.fireChannelReadComplete()
        }
        if inputClosed {
            inputClosed = false
            context.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        }
        context.leavePipeline(removalToken: removalToken)
    }

    private func fail(context: ChannelHandlerContext, _ error: RelayError) {
        guard !done else { return }
        done = true
        failed = true
        paired.fail(error)
        context.close(promise: nil)
    }

    /// The relay's answer as printable text.
    private func quoted() -> String {
        let printable = answer.prefix(Self.maxQuoted).map { byte -> Character in
            (0x20..<0x7f).contains(byte) ? Character(Unicode.Scalar(byte)) : (byte == 0x0a ? " " : "?")
        }
        return String(printable).trimmingCharacters()
    }
}

extension String {
    fileprivate func trimmingCharacters() -> String {
        var text = Substring(self)
        while text.last == " " { text = text.dropLast() }
        return String(text)
    }
}
