import Foundation
import Testing
@testable import S2SEngine

/// `Streams=` and `--streams`, and the automatic count by round trip and size.
struct StreamCountTests {
    @Test func parsing() throws {
        #expect(try StreamCount.parse("auto") == nil)
        #expect(try StreamCount.parse("AUTO") == nil)
        #expect(try StreamCount.parse("1") == 1)
        #expect(try StreamCount.parse("16") == 16)
        for bad in ["0", "17", "-1", "", "four", "4.0", " 4"] {
            #expect(throws: StreamCount.ParseError.self, "\(bad)") { try StreamCount.parse(bad) }
        }
    }

    /// One on a LAN, four on a long path, one more per 12.5 ms of round trip, at most twelve.
    @Test func automaticByRoundTrip() {
        let milliseconds: [(UInt32, Int)] = [
            (0, 1), (1, 1), (9, 1), (10, 4), (30, 4), (50, 4), (51, 5), (60, 5), (100, 8), (140, 12), (150, 12), (2000, 12),
        ]
        for (rtt, streams) in milliseconds {
            #expect(StreamCount.automatic(roundTripMicroseconds: rtt * 1000, bytes: 1 << 30) == streams, "\(rtt) ms")
        }
        #expect(StreamCount.automatic(roundTripMicroseconds: .max, bytes: .max) == 12)
    }

    /// No more than one connection per 8 MiB still to send: a small transfer, or what a resumed
    /// one has left, is done before further connections could carry anything.
    @Test func automaticByWhatIsLeftToSend() {
        let mebibytes: [(UInt64, Int)] = [(0, 1), (1, 1), (8, 1), (16, 2), (31, 3), (32, 4), (63, 7), (64, 8), (96, 12), (1 << 20, 12)]
        for (size, streams) in mebibytes {
            #expect(StreamCount.automatic(roundTripMicroseconds: 150_000, bytes: size << 20) == streams, "\(size) MiB")
        }
        #expect(StreamCount.automatic(roundTripMicroseconds: 50_000, bytes: 64 << 20) == 4, "the round trip's count still bounds it")
        #expect(StreamCount.automatic(roundTripMicroseconds: 1_000, bytes: 1 << 30) == 1, "and a LAN keeps one")
    }

    /// A stored send keeps its count, within 1 ... 16, and an older one without it is automatic.
    @Test func sendOptionsCarryTheCount() throws {
        var options = SendOptions()
        options.streams = 6
        let decoded = try JSONDecoder().decode(SendOptions.self, from: JSONEncoder().encode(options))
        #expect(decoded.streams == 6)
        #expect(try JSONDecoder().decode(SendOptions.self, from: Data("{}".utf8)).streams == nil)
        #expect(try JSONDecoder().decode(SendOptions.self, from: Data(#"{"streams": 99}"#.utf8)).streams == 16)
    }
}
