import ArgumentParser
import FoundationEssentials
import S2SBus
import S2SClient
import S2SCore

/// `s2sctl status`.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show whether s2sd runs, and how.",
        discussion: """
            Prints the daemon's version and start time, its endpoints, the transfers running now, \
            the send queue (queued and active sends), the endpoints waiting at a relay, its peer \
            sockets and when it exits when idle. Exits 69 (EX_UNAVAILABLE) when s2sd is not running.
            """)

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
        /// Sends waiting in the queue and sends connected now (null: a daemon without them).
        @Nullable var queuedSends: UInt32?
        @Nullable var activeSends: UInt32?
        /// Transfers moving data now, either way.
        let runningTransfers: Int
        /// Endpoints that wait at a relay, and those of them connected there now.
        let relayEndpoints: Int
        let relayEndpointsConnected: Int
    }

    func run() async throws {
        let client = try await root.busOptions.client()
        let properties = try await client.managerProperties()
        let endpoints = try await client.endpoints().map { try EndpointInfo(object: $0.path, properties: $0.properties) }
        let transfers = try await client.transfers()
        guard let version = properties["Version"]?.stringValue, let started = properties["StartTimestamp"]?.uint64Value,
            let listeners = properties["PeerListeners"]?.arrayValue?.compactMap(\.stringValue),
            let maxEndpoints = properties["MaxEndpointsPerUser"]?.uint64Value, let idle = properties["IdleTimeout"]?.uint64Value
        else { throw CommandFailure(message: "the daemon sent malformed properties") }
        let running = transfers.filter { !$0.state.isFinished && !$0.state.isWaiting }
        let relayed = endpoints.filter { $0.relay != nil }
        let status = Status(
            bus: root.busOptions.bus == .user ? "user" : "system", version: version,
            started: Timestamp.rfc3339(microseconds: started), peerListeners: listeners, endpoints: endpoints.count,
            maxEndpointsPerUser: maxEndpoints, idleTimeoutSeconds: idle == DaemonAPI.unlimited ? nil : idle / 1_000_000,
            queuedSends: properties["QueuedSends"]?.uint32Value, activeSends: properties["ActiveSends"]?.uint32Value,
            runningTransfers: running.count, relayEndpoints: relayed.count,
            relayEndpointsConnected: relayed.filter { $0.relayConnected == true }.count)
        if output.json {
            try Output.json(status)
            return
        }
        Output.line("s2sd \(version) is running on the \(status.bus) bus")
        Output.details(Self.details(status, running: running, relays: Set(relayed.compactMap(\.relay)).sorted(), now: Date()))
    }

    /// The `Label: value` lines under the first line.
    static func details(_ status: Status, running: [TransferSnapshot], relays: [String], now: Date) -> [(String, String)] {
        let started = LocalTime.date(rfc3339: status.started) ?? now
        let uptime = UInt64(max(0, now.timeIntervalSince(started)))
        let sending = running.filter { $0.direction == .send }.count
        var lines: [(String, String)] = [
            ("Since", "\(Time.human(started)) (\(Units.formatDuration(seconds: uptime)) ago)"),
            ("Endpoints", "\(status.endpoints) (at most \(status.maxEndpointsPerUser) per user)"),
            ("Transfers", running.isEmpty ? "none running" : "\(running.count) running (\(sending) sending, \(running.count - sending) receiving)"),
        ]
        if let queued = status.queuedSends, let active = status.activeSends {
            lines.append(("Send queue", "\(queued) waiting, \(active) active"))
        }
        lines.append((
            "Relays",
            status.relayEndpoints == 0
                ? "no endpoint waits at a relay"
                : "\(status.relayEndpointsConnected) of \(status.relayEndpoints) endpoint\(status.relayEndpoints == 1 ? "" : "s") "
                    + "connected at \(relays.joined(separator: ", "))"))
        lines.append(("Peer sockets", status.peerListeners.isEmpty ? "none (not socket-activated)" : status.peerListeners.joined(separator: ", ")))
        lines.append(("Idle exit", status.idleTimeoutSeconds.map { "after \(Units.formatDuration(seconds: $0)) when activated" } ?? "never"))
        return lines
    }
}
