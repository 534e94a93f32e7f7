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

    @Argument(help: ArgumentHelp("The endpoint's ID (any letter case).", valueName: "id"), completion: Completions.endpoints)
    var id: String

    func run() async throws {
        let id = try parsedID(id)
        let client = try await root.busOptions.client()
        let path = try await client.endpoint(id)
        let endpoint = try EndpointInfo(object: path, properties: try await client.endpointProperties(path))
        if output.json {
            try Output.json(endpoint)
        } else {
            Output.details(endpoint.details)
        }
    }
}

/// Reads an ID from the command line before anything is sent: a typo fails here, with
/// EX_DATAERR, before any bus call.
func parsedID(_ text: String) throws(CommandFailure) -> EndpointID {
    do {
        return try EndpointID(parsing: text)
    } catch {
        throw CommandFailure(message: error.description, status: .dataError)
    }
}
