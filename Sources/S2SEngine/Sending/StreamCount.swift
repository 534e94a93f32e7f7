/// How many TCP connections one transfer uses (docs/protocol.md, "Striped sessions"; `Streams=`,
/// `s2sctl send --streams`); the receiver may allow fewer (through a relay, 4 in all).
///
/// One connection fills a LAN; across a long path, one TCP connection's window and each loss's
/// recovery hold it far below the link, and several connections in parallel make up for it.
/// Automatic, from the round trip of the session's first connection: one below ``longPath``; from
/// there one per ``roundTripPerStream`` of round trip, at least ``longPathStreams`` and at most
/// ``mostAutomatic``. With Debian's default buffer maxima one BBR connection carried about 1.5 MB
/// per round trip (29 MB/s at 50 ms, 10 MB/s at 150 ms, 0.5 % loss; `make bench-wan`): so 4 at
/// 50 ms, 8 at 100 ms and 12 from 150 ms (at 150 ms, 0.5 % loss, 12 carried 73 MB/s where 8
/// carried 57 to 64). And no more than one per ``bytesPerStream`` still to send: a further
/// connection carries its first record some two round trips after the first connection starts
/// (its TCP and Noise handshakes after the receiver's invitation), by when a small transfer is
/// done, and each costs both sides a handshake.
package enum StreamCount {
    /// The most connections a transfer may use (the receiver's limit: ``ReceiveSession/maxExtraStripes`` + 1).
    package static let most = 16
    /// The round trip from which the automatic count stripes.
    static let longPath: Duration = .milliseconds(10)
    /// The fewest connections the automatic count uses on a long path.
    static let longPathStreams = 4
    /// Round trip per automatic connection.
    static let roundTripPerStream: Duration = .microseconds(12_500)
    /// The most connections the automatic count uses.
    static let mostAutomatic = 12
    /// What a transfer must still have to send for each connection the automatic count opens.
    static let bytesPerStream: UInt64 = 8 << 20

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

    /// The automatic count for a path whose round trip is `roundTripMicroseconds`, for a transfer
    /// that still has `bytes` to send.
    static func automatic(roundTripMicroseconds: UInt32, bytes: UInt64) -> Int {
        let roundTrip = Duration.microseconds(roundTripMicroseconds)
        guard roundTrip >= longPath else { return 1 }
        let perRoundTrip = Int((roundTrip / roundTripPerStream).rounded(.up))
        let bySize = Int(min(bytes / bytesPerStream, UInt64(mostAutomatic)))
        return max(1, min(max(perRoundTrip, longPathStreams), mostAutomatic, bySize))
    }
}
