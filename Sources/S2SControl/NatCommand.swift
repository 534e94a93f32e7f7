import ArgumentParser
import FoundationEssentials
import S2SClient
import S2SCore

/// `s2sctl nat`.
struct NatCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nat",
        abstract: "Show this host's public addresses and what its NAT allows.",
        discussion: """
            Asks s2sd to look at the NAT with its STUN servers (StunServer= in s2sd.conf): Binding \
            requests over UDP and over TCP, each from one local port to two server addresses. \
            Prints the public address each transport was given, whether the NAT keeps it for every \
            destination ("cone": a punched route can work) or gives each destination a new port \
            ("symmetric": punching cannot work; use a relay or forward a port), and the host's own \
            addresses. Takes a few seconds; the daemon keeps a look for 30 seconds.

            This is the only command that makes s2sd contact STUN servers, besides a punched route.
            """)

    @ParentCommand var root: S2SCtl
    @OptionGroup var output: JSONOption

    struct Report: Encodable {
        let nat: String
        let udp: NatSummary.Transport
        let tcp: NatSummary.Transport
        let hostAddresses: [String]
        let stunServers: [String]
        let errors: [String]
        let measured: String
    }

    func run() async throws {
        let summary = try await root.busOptions.client().discoverNAT()
        if output.json {
            try Output.json(Report(
                nat: summary.nat, udp: summary.udp, tcp: summary.tcp, hostAddresses: summary.hostAddresses,
                stunServers: summary.stunServers, errors: summary.errors, measured: Timestamp.rfc3339(microseconds: summary.timestamp)))
            return
        }
        Output.line("NAT: \(Self.verdict(summary.nat))")
        Output.details(Self.details(summary))
    }

    /// What a verdict means for a punched route, in a sentence.
    static func verdict(_ nat: String) -> String {
        switch nat {
        case "none": "none; the STUN servers saw this host's own address (a firewall may still filter)"
        case "cone": "cone; the NAT keeps a socket's public port for every destination, so a punched route can work"
        case "symmetric":
            "symmetric; the NAT gives each destination a new public port, so punching cannot work: use a relay (Relay=) "
                + "or forward a port to s2sd (Listen=, ExternalAddress=)"
        case "blocked": "unknown; no STUN server answered (UDP and TCP to them may be filtered)"
        case "unknown": "unknown; only one STUN server address answered, and one cannot tell (configure two StunServer=)"
        default: nat
        }
    }

    static func details(_ summary: NatSummary) -> [(String, String)] {
        var lines = [("UDP", describe(summary.udp)), ("TCP", describe(summary.tcp))]
        lines.append(("Host addresses", summary.hostAddresses.isEmpty ? "none" : summary.hostAddresses.joined(separator: ", ")))
        lines.append(("STUN servers", summary.stunServers.isEmpty ? "none configured" : summary.stunServers.joined(separator: ", ")))
        let measured = Date(timeIntervalSince1970: Double(summary.timestamp) / 1_000_000)
        lines.append(("Measured", Time.human(measured)))
        for error in summary.errors + summary.udp.errors.map({ "UDP: \($0)" }) + summary.tcp.errors.map({ "TCP: \($0)" }) {
            lines.append(("Error", error))
        }
        return lines
    }

    /// One transport's line: the public address (or each server's), the local port, the mapping.
    static func describe(_ transport: NatSummary.Transport) -> String {
        guard !transport.observations.isEmpty else { return "no reply" }
        let seen = transport.publicAddress ?? transport.observations.map { "\($0.mapped) toward \($0.server)" }.joined(separator: ", ")
        let mapping =
            switch transport.mapping {
            case "none": "no NAT"
            case "endpoint-independent": "the same toward every destination"
            case "endpoint-dependent": "a new port for each destination"
            default: "compared with one server address only"
            }
        return "\(seen) from local port \(transport.localPort) (\(mapping))"
    }
}
