import Foundation
import S2SProtocol
import Testing
@testable import S2SEngine

/// Send's options as the queue stores them (JSON).
struct SendOptionsTests {
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
