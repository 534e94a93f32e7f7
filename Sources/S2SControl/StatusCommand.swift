import ArgumentParser
import Foundation
import S2SClient
import S2SCore

/// `s2sctl status`.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show whether s2sd runs, and how.")

    @ParentCommand var root: S2SCtl
    @OptionGroup var output: JSONOption

    struct Status: Encodable {
        let bus: String
        let version: String
        let started: String
        let peerListeners: [String]
        let endpoints: Int
        let maxEndpointsPerUser: UInt64
        @Nullable var idleTimeoutSeconds: UInt64?
    }

    func run() async throws {
        let client = try await root.busOptions.client()
        let properties = try await client.managerProperties()
        let endpoints = try await client.endpoints().count
        guard let version = properties["Version"]?.stringValue, let started = properties["StartTimestamp"]?.uint64Value,
            let listeners = properties["PeerListeners"]?.arrayValue?.compactMap(\.stringValue),
            let maxEndpoints = properties["MaxEndpointsPerUser"]?.uint64Value, let idle = properties["IdleTimeout"]?.uint64Value
        else { throw CommandFailure(message: "the daemon sent malformed properties") }
        let status = Status(
            bus: root.busOptions.bus == .user ? "user" : "system", version: version,
            started: Timestamp.rfc3339(microseconds: started), peerListeners: listeners, endpoints: endpoints,
            maxEndpointsPerUser: maxEndpoints, idleTimeoutSeconds: idle == DaemonAPI.unlimited ? nil : idle / 1_000_000)
        if output.json {
            try Output.json(status)
            return
        }
        let uptime = UInt64(max(0, Date().timeIntervalSince(Timestamp.date(microseconds: started))))
        Output.line("s2sd \(version) is running on the \(status.bus) bus")
        Output.line("        Since: \(Time.human(Timestamp.date(microseconds: started))) (\(Units.formatDuration(seconds: uptime)) ago)")
        Output.line("    Endpoints: \(endpoints) (at most \(maxEndpoints) per user)")
        Output.line("Peer sockets: \(listeners.isEmpty ? "none (not socket-activated)" : listeners.joined(separator: ", "))")
        Output.line("  Idle exit: \(status.idleTimeoutSeconds.map { "after \(Units.formatDuration(seconds: $0)) when activated" } ?? "never")")
    }
}
