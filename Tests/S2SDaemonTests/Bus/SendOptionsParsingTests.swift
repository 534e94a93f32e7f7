import S2SProtocol
import S2SBus
import S2SEngine
import Testing
@testable import S2SDaemon

/// Send's options dictionary, decoded at the bus edge.
struct SendOptionsParsingTests {
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
            #expect(throws: EngineError.self) { try SendOptions(parsing: bad) }
        }
    }
}
