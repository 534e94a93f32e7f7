import ArgumentParser
import S2SBus
import S2SCore

/// `s2sctl endpoint show ID`.
struct EndpointShow: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show one endpoint.")

    @ParentCommand var root: S2SCtl
    @OptionGroup var output: JSONOption

    @Argument(help: ArgumentHelp("The endpoint's ID (any letter case).", valueName: "id"))
    var id: String

    func validate() throws { _ = try validatedID(id) }

    func run() async throws {
        let client = try await root.busOptions.client()
        let reply = try await client.manager("GetEndpoint", [.string(try validatedID(id).text)])
        guard let path = reply.first?.objectPathValue else { throw CommandFailure(message: "the daemon sent a malformed reply") }
        let endpoint = try EndpointInfo(
            object: path, properties: try await client.properties(of: path, interface: DaemonAPI.endpointInterface))
        if output.json {
            try Output.json(endpoint)
        } else {
            let width = endpoint.details.map(\.0.count).max() ?? 0
            for (name, value) in endpoint.details {
                Output.line(String(repeating: " ", count: width - name.count) + name + ": " + value)
            }
        }
    }
}

/// Checks an ID on the command line before anything is sent: a typo is a usage error.
func validatedID(_ text: String) throws(ValidationError) -> EndpointID {
    do {
        return try EndpointID(parsing: text)
    } catch {
        throw ValidationError("\(error.description)")
    }
}
