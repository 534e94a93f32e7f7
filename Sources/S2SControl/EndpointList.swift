import ArgumentParser
import S2SClient
import S2SCore
#if canImport(Glibc)
import Glibc
#endif

/// `s2sctl endpoint list`.
struct EndpointList: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List your endpoints (every endpoint, for root).")

    @ParentCommand var root: S2SCtl
    @OptionGroup var output: JSONOption

    func run() async throws {
        let client = try await root.busOptions.client()
        let endpoints = try await client.endpoints().map { try EndpointInfo(object: $0.path, properties: $0.properties) }
        if output.json {
            try Output.json(endpoints)
            return
        }
        if endpoints.isEmpty {
            Output.error("No endpoints. Make one with: s2sctl\(root.busOptions.bus == .user ? " --user" : "") endpoint new DIR")
            return
        }
        let showOwner = endpoints.contains { $0.owner != getuid() }
        var header = ["ID", "DIRECTORY", "QUOTA", "EXPIRES", "USES LEFT", "RECEIVED"]
        if showOwner { header.insert("OWNER", at: 1) }
        let rows = endpoints.map { endpoint in
            var row = [
                endpoint.id, endpoint.directory,
                endpoint.quota.map(Units.formatSize) ?? "-",
                endpoint.expires.map(Time.human(rfc3339:)) ?? "never",
                endpoint.remainingUses.map(String.init) ?? "-",
                Units.formatSize(endpoint.bytesReceived),
            ]
            if showOwner { row.insert(Users.name(of: endpoint.owner), at: 1) }
            return row
        }
        Output.table(header: header, rows: rows)
    }
}
