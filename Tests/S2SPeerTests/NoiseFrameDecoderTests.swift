import NIOCore
import NIOEmbedded
import S2SPeer
import S2SProtocol
import Testing

/// The frame cutter on its own: the same units come out however the stream is cut into reads.
@Suite struct NoiseFrameDecoderTests {
    /// Frame bodies from 1 byte to the largest, with recognisable contents.
    static let bodies: [[UInt8]] = [1, 2, 17, 1000, 65_536 - 1, 4096, 65_535, 3].enumerated().map { index, length in
        (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ index) }
    }

    static func stream(preamble: [UInt8]?, _ bodies: [[UInt8]]) -> [UInt8] {
        var bytes = preamble ?? []
        for body in bodies {
            bytes += [UInt8(body.count >> 8), UInt8(body.count & 0xFF)] + body
        }
        return bytes
    }

    /// Feeds `bytes` in reads of the sizes `cuts` gives in turn; returns the units passed on.
    static func decode(_ bytes: [UInt8], expectPreamble: Bool, cuts: [Int]) throws -> [[UInt8]] {
        let channel = EmbeddedChannel(handler: NoiseFrameDecoder(expectPreamble: expectPreamble))
        var offset = 0
        var cut = 0
        while offset < bytes.count {
            let size = min(cuts[cut % cuts.count], bytes.count - offset)
            cut += 1
            try channel.writeInbound(ByteBuffer(bytes: bytes[offset..<offset + size]))
            offset += size
        }
        var units: [[UInt8]] = []
        while let unit = try channel.readInbound(as: ByteBuffer.self) {
            units.append(Array(unit.readableBytesView))
        }
        _ = try channel.finish()
        return units
    }

    @Test(arguments: [[1], [2], [3], [7], [65_537], [65_538], [256 * 1024], [1, 65_536, 5, 300_000, 2], [40_000, 90_001]])
    func sameUnitsHoweverTheStreamIsCut(cuts: [Int]) throws {
        let preamble = (0..<EndpointSelector.encodedLength).map { UInt8($0) }
        let units = try Self.decode(Self.stream(preamble: preamble, Self.bodies), expectPreamble: true, cuts: cuts)
        #expect(units == [preamble] + Self.bodies)
        let frames = try Self.decode(Self.stream(preamble: nil, Self.bodies), expectPreamble: false, cuts: cuts)
        #expect(frames == Self.bodies)
    }

    @Test func zeroLengthIsRefusedAtItsLengthBytes() throws {
        let channel = EmbeddedChannel(handler: NoiseFrameDecoder(expectPreamble: false))
        try channel.writeInbound(ByteBuffer(bytes: [0, 3, 1, 2, 3, 0]))
        #expect(try channel.readInbound(as: ByteBuffer.self).map { Array($0.readableBytesView) } == [1, 2, 3])
        #expect(throws: PeerError.malformedFrame("frame of length 0")) {
            try channel.writeInbound(ByteBuffer(bytes: [0, 0, 1, 9]))
        }
        try channel.writeInbound(ByteBuffer(bytes: [0, 1, 9]))
        #expect(try channel.readInbound(as: ByteBuffer.self) == nil, "nothing is decoded after an error")
        _ = try? channel.finish()
    }

    @Test func oversizeIsRefusedBeforeItsBody() throws {
        let channel = EmbeddedChannel(handler: NoiseFrameDecoder(expectPreamble: false, maxFrameLength: 100))
        #expect(throws: PeerError.frameTooLarge(length: 101, limit: 100)) {
            try channel.writeInbound(ByteBuffer(bytes: [0, 101]))
        }
        _ = try? channel.finish()
    }

    @Test func theEndInsideAFrameIsAnError() throws {
        let channel = EmbeddedChannel(handler: NoiseFrameDecoder(expectPreamble: false))
        try channel.writeInbound(ByteBuffer(bytes: [0, 10, 1, 2, 3]))
        #expect(try channel.readInbound(as: ByteBuffer.self) == nil)
        #expect(throws: PeerError.self) { try channel.finish() }
    }
}
