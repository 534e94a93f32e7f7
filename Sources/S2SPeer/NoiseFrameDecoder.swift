public import NIOCore
public import S2SProtocol

/// Splits the byte stream of a session into its units (docs/protocol.md, "Session layout"):
/// optionally the 37-byte preamble first (receiver side), then frames of a 2-byte big-endian
/// length and that many bytes. Each unit is passed on as one `ByteBuffer` without the length.
///
/// A unit that lies wholly inside one read is passed on as a slice of the read buffer, without a
/// copy; only a unit that straddles reads is gathered into a buffer of its own, sized once. (NIO's
/// `ByteToMessageHandler` keeps one cumulation buffer, which the slices still being decrypted
/// share, so every read after a straddling frame copied and compacted it: a quarter of the
/// receiver's CPU time at full speed.)
///
/// A length of zero or above `maxFrameLength` is refused as soon as the two length bytes are in,
/// without reading or buffering the body; a stream that ends inside a frame is an error too. Every
/// error is a ``PeerError``, passed on with `fireErrorCaught`; nothing is decoded after it.
public final class NoiseFrameDecoder: ChannelInboundHandler, RemovableChannelHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer

    /// The largest frame this side accepts.
    public let maxFrameLength: Int
    private var expectingPreamble: Bool
    /// The start of a unit that the reads so far did not complete, length bytes included.
    private var pending: ByteBuffer?
    private var failed = false

    /// - Parameters:
    ///   - expectPreamble: whether the stream starts with the session preamble (receiver side).
    ///   - maxFrameLength: the largest frame accepted: this side's max record + 16 after the
    ///     handshake; at most 65535.
    public init(expectPreamble: Bool, maxFrameLength: Int = ProtocolLimits.maxNoiseMessageLength) {
        self.expectingPreamble = expectPreamble
        self.maxFrameLength = min(max(maxFrameLength, 1), ProtocolLimits.maxNoiseMessageLength)
    }

    /// The frame limit for a side with `limits`: its own max record plus the AEAD tag.
    public convenience init(expectPreamble: Bool, limits: ProtocolLimits) {
        self.init(expectPreamble: expectPreamble, maxFrameLength: limits.maxRecordSize + ProtocolLimits.tagLength)
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !failed else { return }
        var input = unwrapInboundIn(data)
        do {
            if pending != nil {
                guard try completePending(from: &input, context: context) else { return }
            }
            while let unit = try nextUnit(in: &input) {
                context.fireChannelRead(wrapInboundOut(unit))
            }
            if input.readableBytes > 0 {
                // Room for the whole unit now, so that completing it never grows the buffer.
                let size = try unitSize(of: input) ?? input.readableBytes
                var start = context.channel.allocator.buffer(capacity: size)
                start.writeBuffer(&input)
                pending = start
            }
        } catch {
            fail(error, context: context)
        }
    }

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .inputClosed? = event as? ChannelEvent { checkEnd(context: context) }
        context.fireUserInboundEventTriggered(event)
    }

    public func channelInactive(context: ChannelHandlerContext) {
        checkEnd(context: context)
        context.fireChannelInactive()
    }

    // MARK: Cutting

    /// The size of the unit that starts `buffer` (length bytes included), nil while the length
    /// bytes are not all in; throws for a length that is zero or too large.
    private func unitSize(of buffer: ByteBuffer) throws(PeerError) -> Int? {
        if expectingPreamble { return EndpointSelector.encodedLength }
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt16.self) else { return nil }
        guard length > 0 else { throw .malformedFrame("frame of length 0") }
        guard Int(length) <= maxFrameLength else { throw .frameTooLarge(length: Int(length), limit: maxFrameLength) }
        return 2 + Int(length)
    }

    /// The next whole unit in `input`, as a slice without its length bytes.
    private func nextUnit(in input: inout ByteBuffer) throws(PeerError) -> ByteBuffer? {
        guard let size = try unitSize(of: input), input.readableBytes >= size else { return nil }
        if expectingPreamble {
            expectingPreamble = false
            return input.readSlice(length: size)
        }
        input.moveReaderIndex(forwardBy: 2)
        return input.readSlice(length: size - 2)
    }

    /// Moves bytes from `input` into ``pending`` until its unit is whole, and passes it on.
    /// Returns false if `input` ran out first.
    private func completePending(from input: inout ByteBuffer, context: ChannelHandlerContext) throws(PeerError) -> Bool {
        guard var unit = pending else { return true }
        pending = nil
        while true {
            // Until the two length bytes are in, take them one at a time.
            let size = try unitSize(of: unit) ?? (unit.readableBytes + 1)
            let wanted = size - unit.readableBytes
            guard var piece = input.readSlice(length: min(wanted, input.readableBytes)) else { break }
            unit.writeBuffer(&piece)
            if let whole = try nextUnit(in: &unit) {
                context.fireChannelRead(wrapInboundOut(whole))
                return true
            }
            if input.readableBytes == 0 { break }
        }
        pending = unit
        return false
    }

    // MARK: Errors

    private func checkEnd(context: ChannelHandlerContext) {
        guard !failed, let pending, pending.readableBytes > 0 else { return }
        let what = expectingPreamble ? "the preamble" : "a frame"
        fail(PeerError.malformedFrame("stream ended inside \(what) (\(pending.readableBytes) bytes left)"), context: context)
    }

    private func fail(_ error: any Error, context: ChannelHandlerContext) {
        failed = true
        pending = nil
        context.fireErrorCaught(error)
    }
}
