import S2SBus
import S2SCore

/// The daemon's D-Bus interfaces in one table, as `Packaging/dbus/org.s2s.Daemon1.xml` declares
/// them (a test checks that the two agree).
enum DaemonInterfaces {
    static let manager = InterfaceDescription(
        name: DaemonAPI.managerInterface,
        methods: [
            .init(
                "CreateEndpoint",
                in: [.init("directory", .string), .init("options", .dictionary(key: .string, value: .variant))],
                out: [.init("endpoint", .objectPath), .init("id", .string)]),
            .init("ListEndpoints", out: [.init("endpoints", .array(.structure([.objectPath, .dictionary(key: .string, value: .variant)])))]),
            .init("GetEndpoint", in: [.init("id", .string)], out: [.init("endpoint", .objectPath)]),
            .init("DeleteEndpoint", in: [.init("id", .string)]),
            .init(
                "Send",
                in: [
                    .init("sources", .array(.string)), .init("destination", .string),
                    .init("options", .dictionary(key: .string, value: .variant)),
                ],
                out: [.init("transfer", .objectPath), .init("warnings", .array(.string))]),
            .init("ListTransfers", out: [.init("transfers", .array(.structure([.objectPath, .dictionary(key: .string, value: .variant)])))]),
            .init(
                "ListTransferHistory",
                out: [.init("transfers", .array(.structure([.objectPath, .dictionary(key: .string, value: .variant)])))]),
            .init("ClearFinished", out: [.init("cleared", .uint32)]),
            .init("Subscribe"),
            .init("Unsubscribe"),
            .init("SetLimits", in: [.init("limits", .dictionary(key: .string, value: .variant))]),
        ],
        properties: [
            .init("Version", .string, changeSignal: .const),
            .init("StartTimestamp", .uint64, changeSignal: .const),
            .init("PeerListeners", .array(.string), changeSignal: .const),
            .init("MaxEndpointsPerUser", .uint64, changeSignal: .none),
            .init("IdleTimeout", .uint64, changeSignal: .const),
            .init("ExternalAddress", .string, changeSignal: .const),
            .init("MaxIncomingTransfers", .uint64, changeSignal: .none),
            .init("MaxIncomingTransfersPerEndpoint", .uint64, changeSignal: .none),
            .init("FreeSpaceReserve", .uint64, changeSignal: .none),
            .init("MaxUploadRate", .uint64, changeSignal: .none),
            .init("MaxDownloadRate", .uint64, changeSignal: .none),
            .init("MaxActiveSends", .uint64, changeSignal: .none),
            .init("MaxActiveSendsPerDestination", .uint64, changeSignal: .none),
            .init("RetryFor", .uint64, changeSignal: .const),
            .init("HistoryRetention", .uint64, changeSignal: .const),
            .init("QueuedSends", .uint32, changeSignal: .none),
            .init("ActiveSends", .uint32, changeSignal: .none),
        ],
        signals: [
            .init("TransferAdded", [.init("transfer", .objectPath), .init("properties", .dictionary(key: .string, value: .variant))]),
            .init("TransferProgress", [
                .init("transfer", .objectPath), .init("state", .string), .init("bytes_done", .uint64),
                .init("bytes_total", .uint64), .init("files_done", .uint64), .init("files_total", .uint64),
                .init("rate", .uint64), .init("current_file", .string),
            ]),
            .init("TransferFinished", [.init("transfer", .objectPath), .init("state", .string), .init("error", .string)]),
        ])

    static let endpoint = InterfaceDescription(
        name: DaemonAPI.endpointInterface,
        properties: [
            .init("Id", .string, changeSignal: .const),
            .init("Directory", .string, changeSignal: .const),
            .init("Owner", .uint32, changeSignal: .const),
            .init("CreatedTimestamp", .uint64, changeSignal: .const),
            .init("Quota", .uint64, changeSignal: .const),
            .init("ExpiresTimestamp", .uint64, changeSignal: .const),
            .init("RemainingUses", .uint64),
            .init("BytesReceived", .uint64),
            .init("FilesReceived", .uint64),
            .init("Relay", .string, changeSignal: .none),
            .init("RelayConnected", .boolean, changeSignal: .none),
        ])

    static let transfer = InterfaceDescription(
        name: DaemonAPI.transferInterface,
        methods: [.init("Cancel"), .init("Pause"), .init("Resume"), .init("SetRateLimit", in: [.init("bytes_per_second", .uint64)])],
        properties: [
            .init("Direction", .string, changeSignal: .const),
            .init("State", .string),
            .init("Route", .string, changeSignal: .const),
            .init("Owner", .uint32, changeSignal: .const),
            .init("Endpoint", .objectPath, changeSignal: .const),
            .init("Destination", .string, changeSignal: .const),
            .init("Sources", .array(.string), changeSignal: .const),
            .init("Names", .array(.string), changeSignal: .const),
            .init("DigestAlgorithm", .string, changeSignal: .const),
            .init("Digest", .string),
            .init("BytesDone", .uint64),
            .init("BytesTotal", .uint64),
            .init("BytesResumed", .uint64),
            .init("FilesDone", .uint64),
            .init("FilesTotal", .uint64),
            .init("Rate", .uint64),
            .init("CurrentFile", .string),
            .init("Error", .string),
            .init("CreatedTimestamp", .uint64, changeSignal: .const),
            .init("FinishedTimestamp", .uint64),
            .init("RateLimit", .uint64),
            .init("RemoveSource", .boolean, changeSignal: .const),
            .init("KeptSources", .array(.string)),
            .init("Priority", .int32, changeSignal: .const),
            .init("Attempts", .uint32),
            .init("NextAttempt", .uint64),
            .init("LastError", .string),
        ],
        signals: [.init("Completed", [.init("state", .string), .init("error", .string)])])
}
