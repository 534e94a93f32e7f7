import S2SBus
import S2SClient
import S2SCore
import Testing
@testable import S2SControl

/// `s2sctl nat`: DiscoverNAT's reply read, malformed replies refused, and the lines people read.
struct NatCommandTests {
    static func transport(_ prefix: String, port: UInt32, mapping: String, seen: [(String, String)], errors: [String] = []) -> [String: DBusValue] {
        [
            prefix + "LocalPort": .uint32(port), prefix + "Mapping": .string(mapping),
            prefix + "Mapped": .array(.structure([.string, .string]), seen.map { .structure([.string($0.0), .string($0.1)]) }),
            prefix + "Errors": .strings(errors),
        ]
    }

    static func reply(nat: String, udp: [String: DBusValue], tcp: [String: DBusValue]) -> [DBusValue] {
        var entries: [String: DBusValue] = [
            "NAT": .string(nat), "HostAddresses": .strings(["10.0.0.2"]), "StunServers": .strings(["198.19.0.3:3478"]),
            "Errors": .strings([]), "Timestamp": .uint64(1_800_000_000_000_000),
        ]
        entries.merge(udp) { $1 }
        entries.merge(tcp) { $1 }
        return [.vardict(entries)]
    }

    @Test func aConeReadsAsOnePublicAddress() throws {
        let summary = try NatSummary(reply: Self.reply(
            nat: "cone",
            udp: Self.transport("UDP", port: 40000, mapping: "endpoint-independent", seen: [("198.19.0.3:3478", "198.19.0.11:40000"), ("198.19.0.4:3479", "198.19.0.11:40000")]),
            tcp: Self.transport("TCP", port: 41000, mapping: "no-reply", seen: [], errors: ["198.19.0.3:3478: no reply"])))
        #expect(summary.udp.publicAddress == "198.19.0.11:40000")
        #expect(NatCommand.describe(summary.udp) == "198.19.0.11:40000 from local port 40000 (the same toward every destination)")
        #expect(NatCommand.describe(summary.tcp) == "no reply")
        #expect(NatCommand.verdict(summary.nat).hasPrefix("cone; "))
        let lines = NatCommand.details(summary)
        #expect(lines.contains { $0 == ("Error", "TCP: 198.19.0.3:3478: no reply") })
    }

    @Test func aSymmetricNatShowsEachDestinationsPort() throws {
        let summary = try NatSummary(reply: Self.reply(
            nat: "symmetric",
            udp: Self.transport("UDP", port: 40000, mapping: "endpoint-dependent", seen: [("198.19.0.3:3478", "198.19.0.12:5001"), ("198.19.0.4:3479", "198.19.0.12:6002")]),
            tcp: Self.transport("TCP", port: 41000, mapping: "endpoint-dependent", seen: [])))
        #expect(summary.udp.publicAddress == nil)
        #expect(NatCommand.describe(summary.udp).hasPrefix("198.19.0.12:5001 toward 198.19.0.3:3478, 198.19.0.12:6002 toward 198.19.0.4:3479"))
        #expect(NatCommand.verdict("symmetric").contains("use a relay"))
    }

    @Test func aReplyWithoutItsKeysIsMalformed() {
        var entries = Self.reply(nat: "cone", udp: Self.transport("UDP", port: 1, mapping: "unknown", seen: []), tcp: [:])
        #expect(throws: MalformedReply.self) { try NatSummary(reply: entries) }
        entries = [.string("cone")]
        #expect(throws: MalformedReply.self) { try NatSummary(reply: entries) }
        #expect(throws: MalformedReply.self) { try NatSummary(reply: []) }
    }

    @Test func emptyContainersArePrintedCompactAtAnyDepth() {
        let pretty = "{\n  \"a\" : [\n\n  ],\n  \"b\" : {\n\n  },\n  \"c\" : [\n    1\n  ]\n}"
        #expect(Output.compactingEmptyContainers(pretty) == "{\n  \"a\" : [],\n  \"b\" : {},\n  \"c\" : [\n    1\n  ]\n}")
        #expect(Output.compactingEmptyContainers("[\n\n]") == "[]")
    }
}
