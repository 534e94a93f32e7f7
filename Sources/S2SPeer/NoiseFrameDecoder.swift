public import NIOCore
public import S2SProtocol

/// Splits the byte stream of a session into its units (docs/protocol.md, "Session layout"):
/// optionally the 37-byte preamble first (receiver side), then frames of a 2-byte big-endian
/// length and that many bytes. Each unit is passed on as one `ByteBuffer` without the length.
///
/// A length of zero or above `maxFrameLength` is refused as soon as the two length bytes are in,
/// without reading or buffering the body; a stream that ends inside a frame is an error too. Every
/// error is a ``PeerError``, which the channel reports and which ends the connection.
public struct NoiseFrameDecoder: ByteToMessageDecoder, Sendable {
    public typealias InboundOut = ByteBuffer

    /// The largest frame this side accepts.
    public let maxFrameLength: Int
    private var expectingPreamble: Bool

    /// - Parameters:
    ///   - expectPreamble: whether the stream starts with the session preamble (receiver side).
    ///   - maxFrameLength: the largest frame accepted: this side's max record + 16 after the
    ///     handshake; at most 65535.
    public init(expectPreamble: Bool, maxFrameLength: Int = ProtocolLimits.maxNoiseMessageLength) {
        self.expectingPreamble = expectPreamble
        self.maxFrameLength = min(max(maxFrameLength, 1), ProtocolLimits.maxNoiseMessageLength)
    }

    /// The frame limit for a side with `limits`: its own max record plus the AEAD tag.
    public init(expectPreamble: Bool, limits: ProtocolLimits) {
        self.init(expectPreamble: expectPreamble, maxFrameLength: limits.maxRecordSize + ProtocolLimits.tagLength)
    }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        if expectingPreamble {
            guard let preamble = buffer.readSlice(length: EndpointSelector.encodedLength) else { return .needMoreData }
            expectingPreamble = false
            context.fireChannelRead(wrapInboundOut(preamble))
            return .continue
        }
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt16.self) else { return .needMoreData }
        guard length > 0 else { throw PeerError.malformedFrame("frame of length 0") }
        guard Int(length) <= maxFrameLength else {
            throw PeerError.frameTooLarge(length: Int(length), limit: maxFrameLength)
        }
        guard buffer.readableBytes >= 2 + Int(length) else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 2)
        guard let frame = buffer.readSlice(length: Int(length)) else { return .needMoreData }
        context.fireChannelRead(wrapInboundOut(frame))
        return .continue
    }

    public mutating func decodeLast(
        context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool
    ) throws -> DecodingState {
        while try decode(context: context, buffer: &buffer) == .continue {}
        guard buffer.readableBytes == 0 else {
            let what = expectingPreamble ? "the preamble" : "a frame"
            throw PeerError.malformedFrame("stream ended inside \(what) (\(buffer.readableBytes) bytes left)")
        }
        return .needMoreData
    }
}
