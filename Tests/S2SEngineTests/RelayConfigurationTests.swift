import S2SCore
import S2SPeer
import Testing
@testable import S2SEngine

/// `Relay=`, `RelayWaitTimeout=` and the destinations a send accepts with and without relays.
struct RelayConfigurationTests {
    func configuration(_ text: String) throws -> Configuration {
        var configuration = Configuration(bus: .system, environment: [:])
        try configuration.apply(fileContents: text, file: "test.conf")
        return configuration
    }

    @Test func relaysAreAListThatAnEmptyValueClears() throws {
        let parsed = try configuration("[Daemon]\nRelay=relay.example:4001\nRelay=[::1]:4002\nRelayWaitTimeout=5s\n")
        #expect(parsed.relays.map(\.description) == ["relay.example:4001", "[::1]:4002"])
        #expect(parsed.relayWaitTimeout == .seconds(5))
        #expect(try configuration("[Daemon]\nRelay=a.example:1\nRelay=\nRelay=b.example:2\n").relays.map(\.description) == ["b.example:2"])
        #expect(Configuration(bus: .system, environment: [:]).relays.isEmpty)
        #expect(Configuration(bus: .system, environment: [:]).relayWaitTimeout == .seconds(30))
    }

    @Test func badRelaySettingsAreRefused() {
        for bad in ["Relay=relay.example", "Relay=relay.example:0", "Relay=::1:4001", "RelayWaitTimeout=0", "RelayWaitTimeout=soon"] {
            #expect(throws: Configuration.FileError.self) { try configuration("[Daemon]\n\(bad)\n") }
        }
    }

    @Test func aPlainIDGoesThroughTheRelayOnlyWithRelays() throws {
        let id = try #require(EndpointID(publicKey: Array(repeating: 7, count: 32)))
        let relayed = try Destination(parsing: id.text, hasRelays: true)
        #expect(relayed.route == .relay)
        #expect(relayed.description == id.text)
        #expect(throws: EngineError.self) { try Destination(parsing: id.text, hasRelays: false) }
        let direct = try Destination(parsing: "\(id.text)@[::1]:7731", hasRelays: true)
        #expect(direct.route == .direct(host: "::1", port: 7731))
        #expect(direct.description == "\(id.text)@[::1]:7731")
    }
}
