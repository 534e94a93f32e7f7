import ArgumentParser
import FoundationEssentials
import S2SBus
import S2SClient
import S2SCore

/// Shell completions of values that only the daemon knows (transfer numbers, endpoint IDs),
/// asked quietly as systemctl's completions ask systemd: the bus of `--user` when the command
/// line has it, no start of an absent daemon, nothing printed on failure, at most two seconds.
enum Completions {
    /// Transfers (not finished) for cancel, pause, resume and set-rate: the caller's by number,
    /// other users' (root, administrators) as `USER:N`.
    static let transfers = CompletionKind.custom { (words: [String], _: Int, prefix: String) async -> [String] in
        await ask(words) { client in
            try await client.transfers().filter { !$0.state.isFinished }.map { TransferLabel.text($0.path) }
        }.filter { $0.hasPrefix(prefix) }
    }

    /// The IDs of the caller's endpoints for endpoint show and rm.
    static let endpoints = CompletionKind.custom { (words: [String], _: Int, prefix: String) async -> [String] in
        await ask(words) { client in
            try await client.endpoints().compactMap { $0.properties[EndpointProperty.id.rawValue]?.stringValue }
        }.filter { $0.hasPrefix(prefix.lowercased()) }
    }

    /// What `send --checksum` takes.
    static let checksums = CompletionKind.list(["xxh3-128", "sha256"])

    /// `KEY=` for each limit (`s2sctl limits`).
    static let limits = CompletionKind.list(LimitsCommand.keys.map { "\($0.name)=" })

    /// Runs `question` against the daemon on the bus the command line names; [] on any failure.
    private static func ask(_ words: [String], _ question: @escaping @Sendable (DaemonClient) async throws -> [String]) async -> [String] {
        let bus: BusAddress = words.contains("--user") ? .session : .system
        return await withTaskGroup(of: [String]?.self) { group in
            group.addTask {
                guard let client = try? await DaemonClient.connect(bus, environment: ProcessInfo.processInfo.environment, autoStart: false)
                else { return [] }
                return (try? await question(client)) ?? []
            }
            group.addTask {
                try? await Task.sleep(for: .seconds(2))
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first ?? []
        }
    }
}
