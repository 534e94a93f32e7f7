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

    @Argument(help: ArgumentHelp("The IDs of the endpoints to delete.", valueName: "id"), completion: Completions.endpoints)
    var ids: [String]

    func validate() throws {
        guard !ids.isEmpty else { throw ValidationError("give at least one endpoint ID") }
    }

    func run() async throws {
        let parsed = try ids.map { text throws(CommandFailure) in try parsedID(text) }
        let client = try await root.busOptions.client()
        var failures: [String] = []
        var status = ExitStatus.success
        for (text, id) in zip(ids, parsed) {
            do {
                try await client.deleteEndpoint(id)
            } catch let failure as DaemonCallError {
                failures.append(ids.count == 1 ? failure.message : "\(text): \(failure.message)")
                // The first fault's status; a daemon that went away outranks it.
                if status == .success || failure.exitStatus == .unavailable { status = failure.exitStatus }
            }
        }
        if !failures.isEmpty { throw CommandFailure(message: failures.joined(separator: "\ns2sctl: "), status: status) }
    }
}
