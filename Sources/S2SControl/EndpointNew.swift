import ArgumentParser
import S2SBus
import S2SClient
import S2SCore

/// `s2sctl endpoint new DIR`.
struct EndpointNew: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "new",
        abstract: "Make a directory an endpoint and print its ID.",
        discussion: """
            DIR must be a directory you own and can write. The daemon checks it as you, not as root. \
            The ID is printed alone on standard output, so that ID=$(s2sctl endpoint new DIR) works \
            in scripts. When standard error is a terminal, s2sctl says there how senders reach the \
            endpoint: on the direct route with ID@HOST:PORT (given whole when the daemon has an \
            external address, ExternalAddress= in s2sd.conf), and with the ID alone through a relay \
            when the daemon has one (Relay=). The ID@HOST:PORT form is the "address" key of --json.
            """)

    @ParentCommand var root: S2SCtl
    @OptionGroup var output: JSONOption

    @Argument(help: ArgumentHelp("The directory to receive into.", valueName: "dir"))
    var directory: String

    @Option(help: ArgumentHelp("Refuse files once this much has been received (e.g. 500M, 20G).", valueName: "size"))
    var quota: String?

    @Option(help: ArgumentHelp("Delete the endpoint after this long (e.g. 2h, 7d). Files stay.", valueName: "duration"))
    var expires: String?

    @Flag(help: "Accept a single transfer, then stop accepting.")
    var once = false

    @Flag(help: "Let a sender through the relay that asks (send --allow-direct) move to a direct path through both NATs; it learns this host's addresses, and this host its.")
    var allowDirect = false

    func validate() throws {
        if let quota { _ = try sizeArgument(quota) }
        if let expires {
            guard try durationArgument(expires) > 0 else {
                throw ValidationError("--expires must be longer than zero")
            }
        }
        guard !directory.isEmpty else { throw ValidationError("the directory must not be empty") }
    }

    func run() async throws {
        var options: [String: DBusValue] = [:]
        if let quota { options[DaemonAPI.EndpointOption.quota] = .uint64(try sizeArgument(quota)) }
        if let expires { options[DaemonAPI.EndpointOption.lifetime] = .uint64(try durationArgument(expires)) }
        if once { options[DaemonAPI.EndpointOption.maxUses] = .uint64(1) }
        if allowDirect { options[DaemonAPI.EndpointOption.allowDirect] = .boolean(true) }

        let client = try await root.busOptions.client()
        let (path, id) = try await client.createEndpoint(directory: absolutePath(directory), options: options)
        let manager = try await client.managerProperties()
        let external = manager["ExternalAddress"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
        if output.json {
            var info = try EndpointInfo(object: path, properties: try await client.endpointProperties(path))
            info.address = external.map { "\(id)@\($0)" }
            try Output.json(info)
            return
        }
        // Standard output stays the ID alone, for ID=$(s2sctl endpoint new DIR).
        Output.line(id)
        guard ProgressBar.isAvailable else { return }
        let relay = try? await client.endpointProperties(path)[EndpointProperty.relay.rawValue]?.stringValue
        let listeners = manager["PeerListeners"]?.arrayValue?.compactMap(\.stringValue) ?? []
        for line in Self.advice(id: id, external: external, listeners: listeners, relay: relay ?? "") {
            Output.error(line)
        }
    }

    /// What a receiver tells senders, on a terminal: the `ID@HOST:PORT` of the direct route
    /// (whole when the daemon has an external address), and whether the ID alone works.
    static func advice(id: String, external: String?, listeners: [String], relay: String) -> [String] {
        var lines: [String] = []
        if let external {
            lines.append("Senders on the direct route: s2sctl send FILE \(id)@\(external)")
        } else if let listener = listeners.first {
            let port = listener.split(separator: ":").last.map(String.init) ?? "PORT"
            lines.append(
                "Senders on the direct route: s2sctl send FILE \(id)@HOST:\(port), with HOST this machine's address as "
                    + "they reach it (s2sd has no ExternalAddress= to print it whole).")
        } else {
            lines.append("No direct route: s2sd has no peer socket (Listen= in s2sd.conf, or socket activation).")
        }
        lines.append(
            relay.isEmpty
                ? "The ID alone works only through a relay, and s2sd has none (Relay= in s2sd.conf)."
                : "The ID alone works through the relay \(relay): s2sctl send FILE \(id)")
        return lines
    }
}

/// A size on the command line; a bad one is a usage error.
func sizeArgument(_ text: String) throws(ValidationError) -> UInt64 {
    do { return try Units.parseSize(text) } catch { throw ValidationError(error.description) }
}

/// A duration on the command line, in seconds; a bad one is a usage error.
func durationArgument(_ text: String) throws(ValidationError) -> UInt64 {
    do { return try Units.parseDuration(text) } catch { throw ValidationError(error.description) }
}
