import S2SClient
import ArgumentParser
import S2SBus
import S2SCore

/// `s2sctl limits [KEY=VALUE...]`.
struct LimitsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "limits",
        abstract: "Show the daemon-wide limits, or change them.",
        discussion: """
            Without arguments, prints the limits in force. With KEY=VALUE arguments, changes them \
            at once and for the daemon's next starts (they are kept in limits.conf in its state \
            directory, which wins over s2sd.conf); all of them or none. Changing limits is for \
            root, or for a user polkit authorizes (org.s2s.Daemon1.set-limits).

            Keys: MaxEndpointsPerUser, MaxIncomingTransfers, MaxIncomingTransfersPerEndpoint, \
            MaxActiveSends, MaxActiveSendsPerDestination (whole numbers); FreeSpaceReserve (a size: 64M, 1G); MaxUploadRate, MaxDownloadRate \
            (bytes per second over all outgoing or all incoming transfers together: 50M, 0 or \
            unlimited for none; running transfers follow within a quarter of a second).

            Example: s2sctl limits MaxUploadRate=20M MaxDownloadRate=unlimited
            """)

    /// How each limit is written on the command line.
    enum Kind {
        case count, size, rate
    }

    static let keys: [(name: String, kind: Kind)] = [
        ("MaxEndpointsPerUser", .count), ("MaxIncomingTransfers", .count), ("MaxIncomingTransfersPerEndpoint", .count),
        ("FreeSpaceReserve", .size), ("MaxActiveSends", .count), ("MaxActiveSendsPerDestination", .count),
        ("MaxUploadRate", .rate), ("MaxDownloadRate", .rate),
    ]

    @ParentCommand var root: S2SCtl
    @OptionGroup var output: JSONOption

    @Argument(help: ArgumentHelp("Limits to change, each KEY=VALUE.", valueName: "key=value"), completion: Completions.limits)
    var changes: [String] = []

    func validate() throws {
        _ = try parsedChanges()
    }

    /// The arguments as SetLimits takes them: every key known, every value parsed.
    func parsedChanges() throws -> [String: DBusValue] {
        var parsed: [String: DBusValue] = [:]
        for change in changes {
            guard let equals = change.firstIndex(of: "=") else {
                throw ValidationError("\"\(change)\" is not KEY=VALUE")
            }
            let name = String(change[..<equals])
            let value = String(change[change.index(after: equals)...])
            guard let key = Self.keys.first(where: { $0.name.lowercased() == name.lowercased() }) else {
                throw ValidationError("unknown limit \"\(name)\"; known: \(Self.keys.map(\.name).joined(separator: ", "))")
            }
            guard parsed[key.name] == nil else { throw ValidationError("\(key.name) is given twice") }
            do {
                switch key.kind {
                case .count:
                    guard let number = UInt64(value) else { throw ValidationError("\(key.name) must be a whole number, not \"\(value)\"") }
                    parsed[key.name] = .uint64(number)
                case .size:
                    parsed[key.name] = .uint64(try Units.parseSize(value))
                case .rate:
                    parsed[key.name] = .uint64(try Units.parseRate(value))
                }
            } catch let error as Units.ParseError {
                throw ValidationError("\(key.name): \(error.description)")
            }
        }
        return parsed
    }

    func run() async throws {
        let client = try await root.busOptions.client()
        let changes = try parsedChanges()
        if !changes.isEmpty {
            try await client.setLimits(changes)
        }
        let properties = try await client.managerProperties()
        var shown: [(name: String, kind: Kind, value: UInt64)] = []
        for key in Self.keys {
            // A daemon older than some of these keys does not have them: shown as absent.
            guard let value = properties[key.name]?.unwrappingVariant.uint64Value else { continue }
            shown.append((key.name, key.kind, value))
        }
        if output.json {
            try Output.json(Dictionary(uniqueKeysWithValues: shown.map { ($0.name, $0.value) }))
            return
        }
        let width = shown.map(\.name.count).max() ?? 0
        for limit in shown {
            let text: String
            switch limit.kind {
            case .count: text = "\(limit.value)"
            case .size: text = Units.formatSize(limit.value)
            case .rate: text = Units.formatRate(limit.value)
            }
            Output.line(String(repeating: " ", count: width - limit.name.count) + limit.name + ": " + text)
        }
    }
}
