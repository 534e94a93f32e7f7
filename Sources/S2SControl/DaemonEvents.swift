import S2SBus
import S2SCore

/// The daemon's signals as a client sees them, after `Subscribe`.
enum DaemonEvent: Sendable {
    case transferAdded(ObjectPath, [String: DBusValue])
    case transferProgress(ObjectPath, TransferProgress)
    case transferFinished(ObjectPath, state: String, error: String)
    case endpointAdded(ObjectPath)
    case endpointRemoved(ObjectPath)
    /// The daemon left the bus (stopped or crashed).
    case daemonVanished
}

/// One `TransferProgress` signal.
struct TransferProgress: Sendable, Encodable {
    let state: String
    let bytesDone: UInt64
    let bytesTotal: UInt64
    let filesDone: UInt64
    let filesTotal: UInt64
    let rate: UInt64
    let currentFile: String
}

extension DaemonClient {
    /// Subscribes to the daemon's signals about the caller's objects and returns them as events.
    /// Call it before starting what the events are about, so that none is missed.
    func events() async throws -> AsyncStream<DaemonEvent> {
        let signals = await connection.signals()
        do {
            try await connection.addMatch(
                "type='signal',sender='org.freedesktop.DBus',member='NameOwnerChanged',arg0='\(DaemonAPI.busName)'")
        } catch {
            throw CommandFailure(message: "cannot watch the daemon on the bus: \(error)")
        }
        _ = try await manager("Subscribe")
        return AsyncStream { continuation in
            let task = Task {
                for await signal in signals {
                    if let event = Self.event(from: signal) { continuation.yield(event) }
                }
                continuation.finish()
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    private static func event(from signal: Message) -> DaemonEvent? {
        guard let member = signal.member, let body = try? signal.body() else { return nil }
        switch (signal.interface, member) {
        case ("org.freedesktop.DBus", "NameOwnerChanged"):
            guard body.count == 3, body[0].stringValue == DaemonAPI.busName, body[2].stringValue == "" else { return nil }
            return .daemonVanished
        case (DaemonAPI.managerInterface, "TransferAdded"):
            guard body.count == 2, let path = body[0].objectPathValue, let properties = body[1].stringKeyedValue else { return nil }
            return .transferAdded(path, properties.mapValues(\.unwrappingVariant))
        case (DaemonAPI.managerInterface, "TransferProgress"):
            guard body.count == 8, let path = body[0].objectPathValue, let state = body[1].stringValue,
                let done = body[2].uint64Value, let total = body[3].uint64Value, let filesDone = body[4].uint64Value,
                let filesTotal = body[5].uint64Value, let rate = body[6].uint64Value, let current = body[7].stringValue
            else { return nil }
            return .transferProgress(
                path,
                TransferProgress(
                    state: state, bytesDone: done, bytesTotal: total, filesDone: filesDone, filesTotal: filesTotal,
                    rate: rate, currentFile: current))
        case (DaemonAPI.managerInterface, "TransferFinished"):
            guard body.count == 3, let path = body[0].objectPathValue, let state = body[1].stringValue,
                let error = body[2].stringValue
            else { return nil }
            return .transferFinished(path, state: state, error: error)
        case ("org.freedesktop.DBus.ObjectManager", "InterfacesAdded"):
            guard let path = body.first?.objectPathValue, path.rawValue.hasPrefix(DaemonAPI.endpointPathPrefix + "/") else { return nil }
            return .endpointAdded(path)
        case ("org.freedesktop.DBus.ObjectManager", "InterfacesRemoved"):
            guard let path = body.first?.objectPathValue, path.rawValue.hasPrefix(DaemonAPI.endpointPathPrefix + "/") else { return nil }
            return .endpointRemoved(path)
        default:
            return nil
        }
    }
}
