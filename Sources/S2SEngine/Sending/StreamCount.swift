/// How many TCP connections one transfer uses (docs/protocol.md, "Striped sessions"; `Streams=`,
/// `s2sctl send --streams`); the receiver may allow fewer (through a relay, 4 in all).
///
/// One connection fills a LAN; across a long path, one TCP connection's window and each loss's
/// recovery hold it far below the link, and several connections in parallel make up for it.
/// Automatic: ``longPathStreams`` once the round trip of the session's first connection is at
/// least ``longPath``, one below.
package enum StreamCount {
    /// The most connections a transfer may use (the receiver's limit: ``ReceiveSession/maxExtraStripes`` + 1).
    package static let most = 16
    /// The round trip from which the automatic count stripes.
    static let longPath: Duration = .milliseconds(10)
    /// The automatic count on a long path: four connections carried a 50 ms, 0.5 %-loss link at
    /// 97 MB/s where one carried 67 (iperf3 with BBR, `make bench-wan`).
    static let longPathStreams = 4

    struct ParseError: Error {
        let reason: String
    }

    /// `auto` (nil) or a count from 1 to ``most``.
    static func parse(_ text: String) throws(ParseError) -> Int? {
        if text.lowercased() == "auto" { return nil }
        guard let count = Int(text), (1...most).contains(count) else {
            throw ParseError(reason: "must be auto or a number from 1 to \(most), not \"\(text)\"")
        }
        return count
    }

    /// The automatic count for a path whose round trip is `roundTripMicroseconds`.
    static func automatic(roundTripMicroseconds: UInt32) -> Int {
        Duration.microseconds(roundTripMicroseconds) >= longPath ? longPathStreams : 1
    }
}
