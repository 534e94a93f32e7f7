import Foundation
import Testing
@testable import S2SEngine

/// The limits `SetLimits` changes and `limits.conf` keeps.
struct LimitsTests {
    let base = Limits(Configuration(bus: .system, environment: [:]))

    @Test func setLimitsChecksLikeTheConfigurationFile() throws {
        let changed = try base.applying(["MaxEndpointsPerUser": 3, "FreeSpaceReserve": 1 << 30])
        #expect(changed.maxEndpointsPerUser == 3)
        #expect(changed.freeSpaceReserve == 1 << 30)
        #expect(changed.maxIncomingTransfers == base.maxIncomingTransfers)
        #expect(throws: EngineError.self) { try base.applying([:]) }
        #expect(throws: EngineError.self) { try base.applying(["MaxEndpointsPerUser": 0]) }
        #expect(throws: EngineError.self) { try base.applying(["MaxIncomingTransfers": 70_000]) }
        #expect(throws: EngineError.self) { try base.applying(["IdleTimeout": 3]) }
        // All or nothing: one bad key and the good one is not applied either.
        #expect(throws: EngineError.self) { try base.applying(["MaxEndpointsPerUser": 3, "Nope": 1]) }
    }

    @Test func limitsConfWinsOverTheFileAndHoldsOnlyLimits() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("s2s-limits-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var configuration = Configuration(bus: .system, environment: [:])
        configuration.stateDirectory = directory
        configuration.maxEndpointsPerUser = 50
        try configuration.loadRuntimeLimits()   // no file yet: nothing changes
        #expect(configuration.maxEndpointsPerUser == 50)

        let saved = try Limits(configuration).applying(["MaxEndpointsPerUser": 9, "MaxIncomingTransfersPerEndpoint": 2])
        try saved.save(inDirectory: directory)
        try configuration.loadRuntimeLimits()
        #expect(Limits(configuration) == saved)

        try "[Daemon]\nLogLevel=debug\n".write(toFile: directory + "/limits.conf", atomically: true, encoding: .utf8)
        #expect(throws: Configuration.FileError.self) { try configuration.loadRuntimeLimits() }
    }
}
