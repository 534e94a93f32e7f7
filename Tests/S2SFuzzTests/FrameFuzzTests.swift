import FoundationEssentials
import NIOCore
import NIOEmbedded
import S2SPeer
import S2SProtocol
import Testing

/// The receiver's frame cutter (``NoiseFrameDecoder``) on the byte streams a real sender wrote
/// (Corpus/streams: preamble, handshake message and encrypted records, as sent over TCP), mutated
/// and cut into reads at random: the units it passes on are exactly those of a plain reference
/// cutter, up to the first error, which is a ``PeerError``; it never buffers more than one frame.
@Suite(.serialized) struct FrameFuzzTests {
    static let streams: [[UInt8]] = Corpus.files("streams", ext: "stream").flatMap { $0.items.map(\.bytes) }
    static let mutator = Mutator(maxLength: 1 << 18)

    /// The units of `bytes` after the preamble, and whether the stream is malformed (a zero or
    /// oversized length, or the end inside a unit).
    static func reference(_ bytes: [UInt8], maxFrame: Int) -> (units: [[UInt8]], malformed: Bool) {
        let preamble = EndpointSelector.encodedLength
        guard bytes.count >= preamble else { return ([], !bytes.isEmpty) }
        var units = [Array(bytes[0..<preamble])]
        var offset = preamble
        while offset < bytes.count {
            guard offset + 2 <= bytes.count else { return (units, true) }
            let length = Int(bytes[offset]) << 8 | Int(bytes[offset + 1])
            guard length > 0, length <= maxFrame, offset + 2 + length <= bytes.count else { return (units, true) }
            units.append(Array(bytes[(offset + 2)..<(offset + 2 + length)]))
            offset += 2 + length
        }
        return (units, false)
    }

    @Test func theCorpusIsThere() {
        #expect(Self.streams.count >= 2, "no captured streams in \(Corpus.directory.path)/streams")
        for stream in Self.streams {
            #expect(!Self.reference(stream, maxFrame: ProtocolLimits.maxNoiseMessageLength).malformed)
        }
    }

    @Test func framesAreCutExactlyOrRefused() async throws {
        var rng = FuzzRun.generator("frames")
        var tally = FuzzTally("noise frames")
        guard !Self.streams.isEmpty else { return }
        for iteration in 0..<FuzzRun.share(0.05) {
            let seed = Self.streams[Int.random(in: 0..<Self.streams.count, using: &rng)]
            let bytes = Bool.random(using: &rng) ? Self.mutator.mutate(seed, corpus: Self.streams, &rng) : seed
            let maxFrame = Bool.random(using: &rng) ? ProtocolLimits.maxNoiseMessageLength : Int.random(in: 1...70_000, using: &rng)
            let decoder = NoiseFrameDecoder(expectPreamble: true, maxFrameLength: maxFrame)
            let expected = Self.reference(bytes, maxFrame: decoder.maxFrameLength)
            let channel = EmbeddedChannel(handler: decoder)
            await tally.next()
            var units: [[UInt8]] = []
            var failure: (any Error)?
            var offset = 0
            do {
                while offset < bytes.count {
                    let size = min(bytes.count - offset, [1, 2, 3, 37, 100, 1500, 65_536].randomElement(using: &rng) ?? 1)
                    try channel.writeInbound(ByteBuffer(bytes: bytes[offset..<(offset + size)]))
                    offset += size
                    while let unit = try channel.readInbound(as: ByteBuffer.self) { units.append(Array(unit.readableBytesView)) }
                }
                _ = try channel.finish()
            } catch {
                failure = error
                _ = try? channel.finish()
            }
            while let unit = try? channel.readInbound(as: ByteBuffer.self) { units.append(Array(unit.readableBytesView)) }
            if let failure {
                tally.rejected(failure)
                if !(failure is PeerError) { tally.violation("not a PeerError: \(failure)", bytes, iteration: iteration) }
                if !expected.malformed { tally.violation("refused a well-formed stream", bytes, iteration: iteration) }
            } else {
                tally.accepted += 1
                if expected.malformed { tally.violation("accepted a malformed stream", bytes, iteration: iteration) }
            }
            if units != Array(expected.units.prefix(units.count)) || (failure == nil && units.count != expected.units.count) {
                tally.violation("units differ from the reference", bytes, iteration: iteration)
            }
        }
        let growth = tally.finish()
        #expect(tally.reported == 0)
        #expect(tally.accepted > 0 && !tally.errors.isEmpty)
        #expect(growth < 256 * 1024)
    }
}
