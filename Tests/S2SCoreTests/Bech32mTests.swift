import Testing
@testable import S2SCore

/// Bech32m against the published BIP-350 vectors.
struct Bech32mTests {
    @Test(arguments: [
        "A1LQFN3A", "a1lqfn3a",
        "an83characterlonghumanreadablepartthatcontainsthetheexcludedcharactersbioandnumber11sg7hg6",
        "abcdef1l7aum6echk45nj3s0wdvt2fg8x9yrzpqzd3ryx",
        "split1checkupstagehandshakeupstreamerranterredcaperredlc445v",
        "?1v759aa",
    ])
    func validStringsVerify(_ text: String) throws {
        // BIP-350's vectors carry 5-bit data of any length; the checksum is what is checked here.
        let lowered = text.lowercased()
        let separator = try #require(lowered.lastIndex(of: "1"))
        let hrp = Array(lowered[..<separator].utf8)
        let values = lowered[lowered.index(after: separator)...].utf8.map { UInt8(Bech32m.reverseCharset[Int($0)]) }
        #expect(Bech32m.polymod(Bech32m.expand(hrp) + values) == Bech32m.checksumConstant)
    }

    @Test(arguments: [
        "an84characterslonghumanreadablepartthatcontainsthetheexcludedcharactersbioandnumber11429s78",  // too long
        "qyrz8wqd2c9m",  // no separator
        "1qyrz8wqd2c9m",  // empty HRP
        "y1b0jsk6g",  // invalid data character
        "lt1igcx5c0",  // invalid data character
        "in1muywd",  // too short checksum
        "mm1crxm3i",  // invalid character in checksum
        "au1s5cgom",  // invalid character in checksum
        "M1VUXWEZ",  // checksum computed with uppercase HRP
        "16plkw9",  // empty HRP
        "1p2gdwpf",  // empty HRP
    ])
    func invalidStringsAreRejected(_ text: String) {
        #expect(throws: Bech32m.DecodingError.self) { try Bech32m.decode(text) }
    }

    @Test func bytesRoundTrip() throws {
        for length in [0, 1, 5, 20, 32, 40] {
            let data = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
            let decoded = try Bech32m.decode(Bech32m.encode(hrp: "test", data: data))
            #expect(decoded.hrp == "test")
            #expect(decoded.data == data)
        }
    }
}
