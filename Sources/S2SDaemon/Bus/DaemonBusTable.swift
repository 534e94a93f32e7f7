import S2SPeer
import S2SBus
import S2SCore
import S2SEngine
import S2SProtocol

/// The daemon's whole bus surface in one place: every method with its signature, authorization
/// rule and handler, every property with its getter, every signal (docs/dbus-api.md explains
/// them; `Packaging/dbus/org.s2s.Daemon1.xml` is the contract, and a test checks that the two
/// agree). `Authorization`, introspection and dispatch all read this table.
enum DaemonBusTable {
    private static let objectsWithProperties = DBusType.array(.structure([.objectPath, .dictionary(key: .string, value: .variant)]))
    private static let options = DBusType.dictionary(key: .string, value: .variant)

    // MARK: org.s2s.Daemon1.Manager

    static let manager = BusInterface<Manager, Manager.Snapshot>(
        name: DaemonAPI.managerInterface,
        methods: [
            .init(
                "CreateEndpoint", in: [.init("directory", .string), .init("options", options)],
                out: [.init("endpoint", .objectPath), .init("id", .string)], rule: .anyone
            ) { try await $0.createEndpoint($1, caller: $2) },
            .init("ListEndpoints", out: [.init("endpoints", objectsWithProperties)], rule: .ownerOr(.manageAll)) {
                await $0.listEndpoints(caller: $2)
            },
            .init("GetEndpoint", in: [.init("id", .string)], out: [.init("endpoint", .objectPath)], rule: .ownerOr(.manageAll)) {
                [.objectPath(try await $0.endpoint($1, caller: $2, rule: .ownerOr(.manageAll)).busPath)]
            },
            .init("DeleteEndpoint", in: [.init("id", .string)], rule: .ownerOr(.manageAll)) {
                try await $0.deleteEndpoint($1, caller: $2, rule: .ownerOr(.manageAll))
            },
            .init(
                "Send", in: [.init("sources", .array(.string)), .init("destination", .string), .init("options", options)],
                out: [.init("transfer", .objectPath), .init("warnings", .array(.string))], rule: .anyone
            ) { try await $0.send($1, caller: $2) },
            .init("ListTransfers", out: [.init("transfers", objectsWithProperties)], rule: .ownerOr(.manageAll)) {
                await $0.listTransfers(caller: $2)
            },
            .init("ListTransferHistory", out: [.init("transfers", objectsWithProperties)], rule: .ownerOr(.manageAll)) {
                try await $0.listTransferHistory(caller: $2)
            },
            .init("ClearFinished", out: [.init("cleared", .uint32)], rule: .ownerOr(.manageAll)) {
                try await $0.clearFinished(caller: $2)
            },
            .init("Subscribe", rule: .anyone) { try await $0.subscribe(caller: $2) },
            .init("Unsubscribe", rule: .anyone) { await $0.unsubscribe(caller: $2) },
            .init("SetLimits", in: [.init("limits", options)], rule: .administrator(.setLimits)) {
                try await $0.setLimits($1, caller: $2)
            },
            .init("DiscoverNAT", out: [.init("report", options)], rule: .anyone) { await $0.discoverNAT(caller: $2) },
            // Anyone may prepare to send; preparing to receive takes the endpoint's owner (checked
            // by the handler, as for GetEndpoint), and a handle serves only the user it was given.
            .init(
                "PreparePunch", in: [.init("endpoint_id", .string)],
                out: [.init("handle", .string), .init("ticket", .string), .init("warnings", .array(.string))], rule: .anyone
            ) { try await $0.preparePunch($1, caller: $2) },
            .init("Punch", in: [.init("handle", .string), .init("ticket", .string)], out: [.init("peer", .string)], rule: .anyone) {
                try await $0.punch($1, caller: $2)
            },
        ],
        properties: [
            .init("Version", .string, changeSignal: .const) { _ in .string(S2SVersion.current) },
            .init("StartTimestamp", .uint64, changeSignal: .const) { .uint64($0.startTimestamp) },
            .init("PeerListeners", .array(.string), changeSignal: .const) { .strings($0.peerListeners) },
            limit("MaxEndpointsPerUser"),
            .init("IdleTimeout", .uint64, changeSignal: .const) {
                .uint64($0.configuration.idleTimeout.map(microseconds) ?? DaemonAPI.unlimited)
            },
            .init("ExternalAddress", .string, changeSignal: .const) {
                .string($0.configuration.externalAddress.map(Manager.withPort) ?? "")
            },
            limit("MaxIncomingTransfers"),
            limit("MaxIncomingTransfersPerEndpoint"),
            limit("FreeSpaceReserve"),
            limit("MaxUploadRate"),
            limit("MaxDownloadRate"),
            limit("MaxActiveSends"),
            limit("MaxActiveSendsPerDestination"),
            limit("MaxActiveSendsPerUser"),
            limit("MaxQueuedSendsPerUser"),
            .init("RetryFor", .uint64, changeSignal: .const) { .uint64(microseconds($0.configuration.retryFor)) },
            .init("HistoryRetention", .uint64, changeSignal: .const) { .uint64(microseconds($0.configuration.historyRetention)) },
            .init("QueuedSends", .uint32, changeSignal: .none) { .uint32(UInt32(clamping: $0.queued)) },
            .init("ActiveSends", .uint32, changeSignal: .none) { .uint32(UInt32(clamping: $0.active)) },
            .init("CPUTimeByPhase", .dictionary(key: .string, value: .uint64), changeSignal: .none) { _ in
                .dictionary(
                    key: .string, value: .uint64,
                    CPUAccount.totals.sorted { $0.key.rawValue < $1.key.rawValue }.map { DBusValue.DictEntry(.string($0.key.rawValue), .uint64($0.value)) })
            },
        ],
        signals: [
            .init("TransferAdded", [.init("transfer", .objectPath), .init("properties", options)]),
            .init("TransferProgress", [
                .init("transfer", .objectPath), .init("state", .string), .init("bytes_done", .uint64),
                .init("bytes_total", .uint64), .init("files_done", .uint64), .init("files_total", .uint64),
                .init("rate", .uint64), .init("current_file", .string),
            ]),
            .init("TransferFinished", [.init("transfer", .objectPath), .init("state", .string), .init("error", .string)]),
        ])

    /// A daemon-wide limit (`SetLimits`, `limits.conf`), by its configuration key.
    private static func limit(_ key: String) -> BusInterface<Manager, Manager.Snapshot>.Property {
        .init(key, .uint64, changeSignal: .none) { .uint64($0.limits.values[key] ?? 0) }
    }

    private static func microseconds(_ duration: Duration) -> UInt64 {
        UInt64(duration.components.seconds) * 1_000_000
    }

    // MARK: org.s2s.Daemon1.Endpoint

    static let endpoint = BusInterface<Manager, EndpointObject.Snapshot>(
        name: DaemonAPI.endpointInterface,
        properties: [
            .init("Id", .string, changeSignal: .const) { .string($0.endpoint.id.text) },
            .init("Directory", .string, changeSignal: .const) { .string($0.endpoint.directory.path) },
            .init("Owner", .uint32, changeSignal: .const) { .uint32($0.endpoint.owner) },
            .init("CreatedTimestamp", .uint64, changeSignal: .const) { .uint64($0.endpoint.created) },
            .init("Quota", .uint64, changeSignal: .const) { .uint64($0.endpoint.quota ?? DaemonAPI.unlimited) },
            .init("ExpiresTimestamp", .uint64, changeSignal: .const) { .uint64($0.endpoint.expires ?? DaemonAPI.unlimited) },
            .init("RemainingUses", .uint64) { .uint64($0.endpoint.remainingUses ?? DaemonAPI.unlimited) },
            .init("BytesReceived", .uint64) { .uint64($0.endpoint.bytesReceived) },
            .init("FilesReceived", .uint64) { .uint64($0.endpoint.filesReceived) },
            .init("Relay", .string, changeSignal: .none) { .string($0.relay?.relay.description ?? "") },
            .init("RelayConnected", .boolean, changeSignal: .none) { .boolean($0.relay?.connected ?? false) },
            .init("AllowDirect", .boolean, changeSignal: .const) { .boolean($0.endpoint.allowDirect) },
        ])

    // MARK: org.s2s.Daemon1.Transfer

    /// The object tree hands a transfer's object only to callers the rule lets use it
    /// (`Manager.object(at:for:)`), so each method's rule was checked before its handler runs.
    static let transfer = BusInterface<TransferObject, TransferObject.Snapshot>(
        name: DaemonAPI.transferInterface,
        methods: [
            .init("Cancel", rule: .ownerOr(.manageAll)) { object, _, _ in
                try await object.engine.cancel(object.transfer)
                return []
            },
            .init("Pause", rule: .ownerOr(.manageAll)) { object, _, _ in
                try await object.engine.pause(object.transfer)
                return []
            },
            .init("Resume", rule: .ownerOr(.manageAll)) { object, _, _ in
                try await object.engine.resume(object.transfer)
                return []
            },
            .init("SetRateLimit", in: [.init("bytes_per_second", .uint64)], rule: .ownerOr(.manageAll)) { object, arguments, _ in
                guard case .uint64(let rate)? = arguments.first else {
                    throw EngineError.invalidArgument("SetRateLimit takes bytes per second (t), 0 for no limit")
                }
                try await object.engine.setRateLimit(object.transfer, bytesPerSecond: rate)
                return []
            },
        ],
        properties: [
            .init("Direction", .string, changeSignal: .const) { .string($0.transfer.direction.rawValue) },
            .init("State", .string) { .string($0.progress.state.rawValue) },
            .init("Route", .string, changeSignal: .const) { .string($0.transfer.route) },
            .init("Owner", .uint32, changeSignal: .const) { .uint32($0.transfer.owner) },
            .init("Endpoint", .objectPath, changeSignal: .const) {
                .objectPath($0.transfer.endpointObjectNumber.map(EndpointObject.path) ?? "/")
            },
            .init("Destination", .string, changeSignal: .const) { .string($0.transfer.destination) },
            .init("Sources", .array(.string), changeSignal: .const) { .strings($0.transfer.sources) },
            .init("SourceCount", .uint32, changeSignal: .const) { .uint32(UInt32(clamping: $0.transfer.sources.count)) },
            .init("Names", .array(.string), changeSignal: .const) { .strings($0.transfer.names) },
            .init("DigestAlgorithm", .string, changeSignal: .const) { .string($0.transfer.digestAlgorithm) },
            .init("Digest", .string) { .string($0.progress.digest) },
            .init("BytesDone", .uint64) { .uint64($0.progress.bytesDone) },
            .init("BytesTotal", .uint64) { .uint64($0.progress.bytesTotal) },
            .init("BytesResumed", .uint64) { .uint64($0.progress.bytesResumed) },
            .init("FilesDone", .uint64) { .uint64($0.progress.filesDone) },
            .init("FilesTotal", .uint64) { .uint64($0.progress.filesTotal) },
            .init("Rate", .uint64) { .uint64($0.progress.rate) },
            .init("CurrentFile", .string) { .string($0.progress.currentFile) },
            .init("Error", .string) { .string($0.progress.error) },
            .init("CreatedTimestamp", .uint64, changeSignal: .const) { .uint64($0.transfer.createdTimestamp) },
            .init("FinishedTimestamp", .uint64) { .uint64($0.progress.finishedTimestamp) },
            .init("RateLimit", .uint64) { .uint64($0.progress.rateLimit) },
            .init("RemoveSource", .boolean, changeSignal: .const) { .boolean($0.transfer.removeSource) },
            .init("KeptSources", .array(.string)) { .strings($0.progress.keptSources) },
            .init("Priority", .int32, changeSignal: .const) { .int32($0.transfer.priority) },
            .init("Attempts", .uint32) { .uint32($0.progress.attempts) },
            .init("NextAttempt", .uint64) { .uint64($0.progress.nextAttempt) },
            .init("LastError", .string) { .string($0.progress.lastError) },
        ],
        signals: [.init("Completed", [.init("state", .string), .init("error", .string)])])

    /// The rule of a method of the daemon's own interfaces; nil for a method the table lacks,
    /// which is refused.
    static func rule(interface: String, method: String) -> Authorization.Rule? {
        switch interface {
        case manager.name: manager.method(named: method)?.rule
        case transfer.name: transfer.method(named: method)?.rule
        default: nil
        }
    }
}
