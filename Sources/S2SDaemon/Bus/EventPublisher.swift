import Logging
import S2SBus
import S2SCore
import S2SEngine

/// Turns the engine's events into the daemon's signals, in the order the engine emitted them,
/// each sent unicast to the subscribers allowed to hear about the object (`SignalBroadcaster`).
/// `PropertiesChanged` carries only the properties that changed since the last one.
struct EventPublisher: Sendable {
    let manager: Manager
    let signals: SignalBroadcaster

    private var root: ObjectPath { Manager.rootPath }

    func publish(_ event: EngineEvent) async {
        switch event {
        case .endpointAdded(let endpoint):
            let object = manager.endpointObject(endpoint)
            await signals.send(aboutObjectOf: endpoint.owner) { subscriber in
                try await ObjectServer.interfacesAdded(
                    managerPath: root, objectPath: endpoint.busPath, object: object, caller: subscriber, destination: subscriber.uniqueName)
            }
        case .endpointRemoved(let endpoint):
            await signals.send(aboutObjectOf: endpoint.owner) { subscriber in
                try ObjectServer.interfacesRemoved(
                    managerPath: root, objectPath: endpoint.busPath, interfaces: EndpointObject.interfaceNames,
                    destination: subscriber.uniqueName)
            }
        case .endpointCountersChanged(let endpoint):
            let changed = DaemonBusTable.endpoint.changedValues(from: nil, to: manager.endpointObject(endpoint).snapshot)
            await signals.send(aboutObjectOf: endpoint.owner) { subscriber in
                try ObjectServer.propertiesChanged(
                    at: endpoint.busPath, interface: DaemonAPI.endpointInterface, changed: changed, destination: subscriber.uniqueName)
            }
        case .transferAdded(let transfer):
            let object = manager.transferObject(transfer)
            await signals.send(aboutObjectOf: transfer.owner) { subscriber in
                try await ObjectServer.interfacesAdded(
                    managerPath: root, objectPath: transfer.busPath, object: object, caller: subscriber, destination: subscriber.uniqueName)
            }
            let properties = object.values
            await signals.send(aboutObjectOf: transfer.owner) { subscriber in
                try Message.signal(
                    path: root, interface: DaemonAPI.managerInterface, member: "TransferAdded",
                    body: [.objectPath(transfer.busPath), .vardict(properties)], destination: subscriber.uniqueName)
            }
        case .transferChanged(let transfer, let now, let before):
            await propertiesChanged(transfer, now: now, before: before)
            await signals.send(aboutObjectOf: transfer.owner) { subscriber in
                try Message.signal(
                    path: root, interface: DaemonAPI.managerInterface, member: "TransferProgress",
                    body: [
                        .objectPath(transfer.busPath), .string(now.state.rawValue), .uint64(now.bytesDone), .uint64(now.bytesTotal),
                        .uint64(now.filesDone), .uint64(now.filesTotal), .uint64(now.rate), .string(now.currentFile),
                    ],
                    destination: subscriber.uniqueName)
            }
        case .transferFinished(let transfer, let now, let before):
            await propertiesChanged(transfer, now: now, before: before)
            await signals.send(aboutObjectOf: transfer.owner) { subscriber in
                try Message.signal(
                    path: transfer.busPath, interface: DaemonAPI.transferInterface, member: "Completed",
                    body: [.string(now.state.rawValue), .string(now.error)], destination: subscriber.uniqueName)
            }
            await signals.send(aboutObjectOf: transfer.owner) { subscriber in
                try Message.signal(
                    path: root, interface: DaemonAPI.managerInterface, member: "TransferFinished",
                    body: [.objectPath(transfer.busPath), .string(now.state.rawValue), .string(now.error)],
                    destination: subscriber.uniqueName)
            }
        case .transferRemoved(let transfer):
            await signals.send(aboutObjectOf: transfer.owner) { subscriber in
                try ObjectServer.interfacesRemoved(
                    managerPath: root, objectPath: transfer.busPath, interfaces: [DaemonAPI.transferInterface],
                    destination: subscriber.uniqueName)
            }
        }
    }

    /// `PropertiesChanged` with what changed between the two progress snapshots; none when
    /// nothing the signal carries did.
    private func propertiesChanged(_ transfer: Transfer, now: Transfer.Progress, before: Transfer.Progress?) async {
        let changed = DaemonBusTable.transfer.changedValues(
            from: before.map { TransferObject.Snapshot(transfer: transfer, progress: $0) },
            to: TransferObject.Snapshot(transfer: transfer, progress: now))
        guard !changed.isEmpty else { return }
        await signals.send(aboutObjectOf: transfer.owner) { subscriber in
            try ObjectServer.propertiesChanged(
                at: transfer.busPath, interface: DaemonAPI.transferInterface, changed: changed, destination: subscriber.uniqueName)
        }
    }
}
