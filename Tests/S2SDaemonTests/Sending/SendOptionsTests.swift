import Foundation
import S2SBus
import S2SProtocol
import Testing
@testable import S2SDaemon

/// Send's options: parsing from the bus, and the JSON the queue stores.
struct SendOptionsTests {
    @Test func parsesTheQueueOptions() throws {
        let options = try SendOptions(parsing: [
            "Priority": .variant(.int32(-7)), "RetryFor": .variant(.uint64(90_000_000)), "MaxAttempts": .variant(.uint32(5)),
            "Checksum": .variant(.string("SHA256")),
        ])
        #expect(options.priority == -7 && options.retryFor == 90 && options.maxAttempts == 5 && options.digest == .sha256)
        #expect(try SendOptions(parsing: ["Priority": .int64(100)]).priority == 100)
        #expect(try SendOptions(parsing: ["MaxAttempts": .uint32(0)]).maxAttempts == nil)
    }

    @Test func refusesBadValues() {
        for bad: [String: DBusValue] in [
            ["Priority": .int32(101)], ["Priority": .int32(-101)], ["Priority": .int64(1 << 40)], ["Priority": .uint64(.max)],
            ["Priority": .string("high")], ["RetryFor": .string("1d")], ["RetryFor": .uint64(400 * 86_400 * 1_000_000)],
            ["MaxAttempts": .int32(-1)], ["Bogus": .boolean(true)],
        ] {
            #expect(throws: DaemonError.self) { try SendOptions(parsing: bad) }
        }
    }

    @Test func jsonRoundTripsAndToleratesMissingAndUnknownFields() throws {
        var options = SendOptions()
        options.digest = .sha256
        options.followSymlinks = true
        options.priority = 42
        options.retryFor = 3600
        options.maxAttempts = 3
        let data = try JSONEncoder().encode(options)
        #expect(try JSONDecoder().decode(SendOptions.self, from: data) == options)
        // A row written before a field existed, and one written by a newer version.
        let old = try JSONDecoder().decode(SendOptions.self, from: Data(#"{"digest": 2}"#.utf8))
        #expect(old.digest == .sha256 && old.priority == 0 && old.retryFor == nil && !old.followSymlinks)
        let newer = try JSONDecoder().decode(SendOptions.self, from: Data(#"{"priority": 3, "rateLimit": 1000}"#.utf8))
        #expect(newer.priority == 3 && newer.digest == .xxh3_128)
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(SendOptions.self, from: Data(#"{"digest": 9}"#.utf8)) }
    }
}
