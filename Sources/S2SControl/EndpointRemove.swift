import ArgumentParser
import S2SBus

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
                _ = try await client.manager("DeleteEndpoint", [.string(try validatedID(id).text)])
            } catch let failure as CommandFailure {
                failures.append(ids.count == 1 ? failure.message : "\(id): \(failure.message)")
            }
        }
        if !failures.isEmpty { throw CommandFailure(message: failures.joined(separator: "\ns2sctl: ")) }
    }
}
