import S2SBus
import S2SCore
import S2SEngine

/// One transfer's object: its properties, `Cancel`, `SetRateLimit`, `Pause` and `Resume`
/// (`DaemonBusTable.transfer`).
struct TransferObject: BusObject, NumberedObject {
    /// What the properties are read from: the transfer and its progress, read once.
    struct Snapshot: Sendable {
        let transfer: Transfer
        let progress: Transfer.Progress
    }

    static let parent = ObjectPath(DaemonAPI.transferPathPrefix) ?? "/"

    let transfer: Transfer
    let engine: Engine
    var interfaces: [InterfaceDescription] { [DaemonBusTable.transfer.description] }
    var values: [String: DBusValue] { DaemonBusTable.transfer.values(of: Snapshot(transfer: transfer, progress: transfer.snapshot)) }

    func call(_ method: InterfaceDescription.Method, of interface: String, arguments: [DBusValue], caller: Caller) async throws -> [DBusValue] {
        // The object tree hands this object only to callers the authorization table allows
        // (Manager.object(at:for:)), for every method as for its properties.
        try await DaemonBusTable.transfer.call(method.name, on: self, arguments: arguments, caller: caller) { _ in }
    }

    func properties(of interface: String, caller: Caller) async throws -> [String: DBusValue] {
        values
    }
}

extension Transfer {
    var busPath: ObjectPath { TransferObject.path(objectNumber) }
}
