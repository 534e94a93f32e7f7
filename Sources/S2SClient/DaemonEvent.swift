public import S2SBus
public import S2SCore

/// The daemon's signals as a client sees them after `Subscribe`, shared by `s2sctl watch`/`send`
/// and `s2s-notify` so that both read the signals the same way.
public enum DaemonEvent: Sendable {
    /// A transfer started; its properties (``TransferProperty`` names), as ``TransferSnapshot``
    /// reads them.
    case transferAdded(ObjectPath, [String: DBusValue])
    case transferProgress(ObjectPath, TransferProgress)
    /// A transfer ended; `error` says why it failed or was cancelled (empty when done).
    case transferFinished(ObjectPath, state: TransferState, error: String)
    /// An endpoint was made; its properties (``EndpointProperty`` names).
    case endpointAdded(ObjectPath, [String: DBusValue])
    case endpointRemoved(ObjectPath)
    /// The daemon left the bus (stopped or crashed).
    case daemonVanished
    /// The daemon took its name on the bus (started, or started again).
    case daemonAppeared

    /// The match rule that routes the bus's `NameOwnerChanged` about the daemon's name to a
    /// client: the daemon's own signals are unicast and need no rule.
    public static let ownerChangedMatchRule =
        "type='signal',sender='org.freedesktop.DBus',member='NameOwnerChanged',arg0='\(DaemonAPI.busName)'"

    /// The event a signal stands for, or nil for any other signal (or a malformed one).
    public init?(signal: Message) {
        guard let member = signal.member, let body = try? signal.body() else { return nil }
        switch (signal.interface, member) {
        case ("org.freedesktop.DBus", "NameOwnerChanged"):
            guard body.count == 3, body[0].stringValue == DaemonAPI.busName, let owner = body[2].stringValue else { return nil }
            self = owner.isEmpty ? .daemonVanished : .daemonAppeared
        case (DaemonAPI.managerInterface, "TransferAdded"):
            guard body.count == 2, let path = body[0].objectPathValue, let properties = body[1].stringKeyedValue else { return nil }
            self = .transferAdded(path, properties.mapValues(\.unwrappingVariant))
        case (DaemonAPI.managerInterface, "TransferProgress"):
            guard body.count == 8, let path = body[0].objectPathValue, let state = Self.state(body[1]),
                let done = body[2].uint64Value, let total = body[3].uint64Value, let filesDone = body[4].uint64Value,
                let filesTotal = body[5].uint64Value, let rate = body[6].uint64Value, let current = body[7].stringValue
            else { return nil }
            self = .transferProgress(
                path,
                TransferProgress(
                    state: state, bytesDone: done, bytesTotal: total, filesDone: filesDone, filesTotal: filesTotal,
                    rate: rate, currentFile: current))
        case (DaemonAPI.managerInterface, "TransferFinished"):
            guard body.count == 3, let path = body[0].objectPathValue, let state = Self.state(body[1]),
                let error = body[2].stringValue
            else { return nil }
            self = .transferFinished(path, state: state, error: ErrorText.humanized(error))
        case ("org.freedesktop.DBus.ObjectManager", "InterfacesAdded"):
            guard let path = body.first?.objectPathValue, path.rawValue.hasPrefix(DaemonAPI.endpointPathPrefix + "/") else { return nil }
            let interfaces = body.count == 2 ? body[1].stringKeyedValue : nil
            let properties = interfaces?[DaemonAPI.endpointInterface]?.unwrappingVariant.stringKeyedValue ?? [:]
            self = .endpointAdded(path, properties.mapValues(\.unwrappingVariant))
        case ("org.freedesktop.DBus.ObjectManager", "InterfacesRemoved"):
            guard let path = body.first?.objectPathValue, path.rawValue.hasPrefix(DaemonAPI.endpointPathPrefix + "/") else { return nil }
            self = .endpointRemoved(path)
        default:
            return nil
        }
    }

    private static func state(_ value: DBusValue) -> TransferState? {
        value.stringValue.flatMap(TransferState.init(rawValue:))
    }
}
