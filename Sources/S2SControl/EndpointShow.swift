import ArgumentParser
import S2SClient
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
        let path = try await client.endpoint(try validatedID(id))
        let endpoint = try EndpointInfo(object: path, properties: try await client.endpointProperties(path))
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
