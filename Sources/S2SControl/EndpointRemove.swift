import ArgumentParser
import S2SClient

/// `s2sctl endpoint rm ID...`.
struct EndpointRemove: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rm",
        abstract: "Delete endpoints.",
        discussion: """
            The ID stops working at once and for good: its key is destroyed. Files already received \
            stay in the directory.
            """)

    @ParentCommand var root: S2SCtl

    @Argument(help: ArgumentHelp("The IDs of the endpoints to delete.", valueName: "id"))
    var ids: [String]

    func validate() throws {
        guard !ids.isEmpty else { throw ValidationError("give at least one endpoint ID") }
        for id in ids { _ = try validatedID(id) }
    }

    func run() async throws {
        let client = try await root.busOptions.client()
        var failures: [String] = []
        for id in ids {
            do {
                try await client.deleteEndpoint(try validatedID(id))
            } catch let failure as DaemonCallError {
                failures.append(ids.count == 1 ? failure.message : "\(id): \(failure.message)")
            }
        }
        if !failures.isEmpty { throw CommandFailure(message: failures.joined(separator: "\ns2sctl: ")) }
    }
}
