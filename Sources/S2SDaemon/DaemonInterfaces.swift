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
            .init("Subscribe"),
            .init("Unsubscribe"),
        ],
        properties: [
            .init("Version", .string, changeSignal: .const),
            .init("StartTimestamp", .uint64, changeSignal: .const),
            .init("PeerListeners", .array(.string), changeSignal: .const),
            .init("MaxEndpointsPerUser", .uint64, changeSignal: .const),
            .init("IdleTimeout", .uint64, changeSignal: .const),
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
        ])
}
