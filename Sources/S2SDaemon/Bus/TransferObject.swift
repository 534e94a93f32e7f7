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

    /// The most items of `Sources` and `KeptSources` an entry of a list carries, and the most
    /// bytes they take beyond the first item: what a listing shows, bounded whatever a send names.
    static let listedItems = 16
    static let listedBytes = 4096

    /// The properties as an entry of `ListTransfers` and `ListTransferHistory`: the same, with
    /// `Sources` and `KeptSources` cut to their first items (`SourceCount` says how many sources
    /// there are), so that a list of a full queue stays well under what a bus carries
    /// (docs/security.md). The object's own properties are whole.
    var listValues: [String: DBusValue] {
        var values = self.values
        for property in [TransferProperty.sources, .keptSources] {
            if let items = values[property.rawValue]?.stringArrayValue { values[property.rawValue] = .strings(Self.listed(items)) }
        }
        return values
    }

    /// The leading items of `items` that fit ``listedItems`` and ``listedBytes``; the first always.
    static func listed(_ items: [String]) -> [String] {
        var bytes = 0
        var kept: [String] = []
        for item in items.prefix(listedItems) {
            bytes += item.utf8.count
            if !kept.isEmpty, bytes > listedBytes { break }
            kept.append(item)
        }
        return kept
    }

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
