import Testing
@testable import S2SCore

struct UnitsTests {
    @Test(arguments: [
        ("4096", 4096), ("0", 0), ("1K", 1024), ("10k", 10240), ("512M", 512 << 20), ("1.5G", 3 << 29),
        ("2GiB", 2 << 30), ("1 T", 1 << 40), ("3pb", 3 << 50), ("100B", 100), (" 7M ", 7 << 20),
    ] as [(String, UInt64)])
    func sizesParse(_ text: String, _ expected: UInt64) throws {
        #expect(try Units.parseSize(text) == expected)
    }

    @Test(arguments: ["", "12Q", "-1", "1.2.3", "G", "1e9", "99999999999999999999", "16384P", "1.0000000001K", "ten"])
    func badSizesAreRefused(_ text: String) {
        #expect(throws: Units.ParseError.self) { try Units.parseSize(text) }
    }

    @Test(arguments: [
        ("20M", 20 << 20), ("512K/s", 512 << 10), ("1.5G/S", 3 << 29), ("0", 0), ("unlimited", 0), ("Off", 0), (" none ", 0),
    ] as [(String, UInt64)])
    func ratesParse(_ text: String, _ expected: UInt64) throws {
        #expect(try Units.parseRate(text) == expected)
    }

    @Test(arguments: ["", "fast", "-5M", "10Q", "1e9", "M/s", "5M/h", "99999999999999999999"])
    func badRatesAreRefused(_ text: String) {
        #expect(throws: Units.ParseError.self) { try Units.parseRate(text) }
    }

    @Test func ratesFormat() {
        #expect(Units.formatRate(0) == "unlimited")
        #expect(Units.formatRate(20 << 20) == "20 MiB/s")
    }

    @Test(arguments: [
        ("30", 30), ("30s", 30), ("10min", 600), ("10m", 600), ("2h", 7200), ("7d", 604_800), ("1w", 604_800),
        ("1h 30min", 5400), ("1h30min", 5400), ("0", 0), ("1.5h", 5400),
    ] as [(String, UInt64)])
    func durationsParse(_ text: String, _ expected: UInt64) throws {
        #expect(try Units.parseDuration(text) == expected)
    }

    @Test(arguments: ["", "soon", "5 parsecs", "-3s", "h", "1h banana", "99999999999999999999w"])
    func badDurationsAreRefused(_ text: String) {
        #expect(throws: Units.ParseError.self) { try Units.parseDuration(text) }
    }

    @Test func formatting() {
        #expect(Units.formatSize(0) == "0 B")
        #expect(Units.formatSize(1536) == "1.5 KiB")
        #expect(Units.formatSize(1 << 30) == "1 GiB")
        #expect(Units.formatSize(.max) == "16 EiB")
        #expect(Units.formatDuration(seconds: 0) == "0s")
        #expect(Units.formatDuration(seconds: 45) == "45s")
        #expect(Units.formatDuration(seconds: 3660) == "1h 1min")
        #expect(Units.formatDuration(seconds: 2 * 86400 + 3 * 3600 + 5) == "2d 3h")
    }
}
