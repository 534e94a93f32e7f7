import Logging
import S2SBus
import S2SCore
import S2SEngine

/// The daemon's service object on the bus: the Manager's method handlers (listed with their
/// rules in `DaemonBusTable`), and the tree of objects each caller may see. Every call starts from
/// the caller's identity, which the bus vouches for, and from the table's rule for it; then it is
/// one engine call.
final class Manager: ObjectTree, Sendable {
    static let rootPath = ObjectPath(DaemonAPI.rootPath) ?? "/"

    let engine: Engine
    let subscribers: Subscribers
    private let authority: Authority
    private let peerListeners: [String]
    private let startTimestamp: UInt64

    init(engine: Engine, authority: Authority, subscribers: Subscribers, peerListeners: [String]) {
        self.engine = engine
        self.authority = authority
        self.subscribers = subscribers
        self.peerListeners = peerListeners
        self.startTimestamp = Clock.nowMicroseconds
    }

    // MARK: Methods (DaemonBusTable.manager)

    func createEndpoint(_ arguments: [DBusValue], caller: Caller) async throws -> [DBusValue] {
        guard arguments.count == 2, let directory = arguments[0].stringValue, let rawOptions = arguments[1].stringKeyedValue else {
            throw EngineError.invalidArgument("CreateEndpoint takes a directory and an options dictionary")
        }
        let options = try EndpointOptions(parsing: rawOptions)
        let endpoint = try await engine.createEndpoint(owner: caller.uid, directory: directory, options: options)
        return [.objectPath(endpoint.busPath), .string(endpoint.id.text)]
    }

    func listEndpoints(caller: Caller) async -> [DBusValue] {
        let endpoints = await engine.endpoints(in: await authority.scope(of: caller))
        return Self.objectList(endpoints.map { ($0.busPath, self.endpointObject($0).values) })
    }

    func deleteEndpoint(_ arguments: [DBusValue], caller: Caller, rule: Authorization.Rule) async throws -> [DBusValue] {
        try await engine.deleteEndpoint(try await endpoint(arguments, caller: caller, rule: rule), requester: caller.uid)
        return []
    }

    /// Checks the options here and the sources and destination in the engine, which queues the
    /// send (a bad source fails the call); returns its object and what was skipped.
    func send(_ arguments: [DBusValue], caller: Caller) async throws -> [DBusValue] {
        guard arguments.count == 3, let sources = arguments[0].stringArrayValue, let destination = arguments[1].stringValue,
            let rawOptions = arguments[2].stringKeyedValue
        else {
            throw EngineError.invalidArgument("Send takes sources, a destination and an options dictionary")
        }
        let options = try SendOptions(parsing: rawOptions)
        let (transfer, warnings) = try await engine.send(owner: caller.uid, sources: sources, destination: destination, options: options)
        return [.objectPath(transfer.busPath), .strings(warnings)]
    }

    func listTransfers(caller: Caller) async -> [DBusValue] {
        let transfers = await engine.transfers(in: await authority.scope(of: caller))
        return Self.objectList(transfers.map { ($0.busPath, self.transferObject($0).listValues) })
    }

    func listTransferHistory(caller: Caller) async throws -> [DBusValue] {
        let history = try await engine.history(in: await authority.scope(of: caller))
        return Self.objectList(history.map { ($0.busPath, self.transferObject($0).listValues) })
    }

    func clearFinished(caller: Caller) async throws -> [DBusValue] {
        let cleared = try await engine.clearFinished(in: await authority.scope(of: caller), requester: caller.uid)
        return [.uint32(UInt32(clamping: cleared))]
    }

    func subscribe(caller: Caller) async throws -> [DBusValue] {
        await subscribers.add(caller, scope: await authority.scope(of: caller))
        return []
    }

    func unsubscribe(caller: Caller) async -> [DBusValue] {
        await subscribers.remove(caller.uniqueName)
        return []
    }

    /// Changes daemon-wide limits now and for the daemon's next starts. Only for administrators:
    /// the table's rule checked that before.
    func setLimits(_ arguments: [DBusValue], caller: Caller) async throws -> [DBusValue] {
        guard arguments.count == 1, let raw = arguments[0].stringKeyedValue else {
            throw EngineError.invalidArgument("SetLimits takes a dictionary of limits")
        }
        var changes: [String: UInt64] = [:]
        for (key, value) in raw.sorted(by: { $0.key < $1.key }) {
            // A name first, then its type, as callers have always been told.
            try Limits.checkKnown(key)
            guard let number = value.unwrappingVariant.uint64Value else { throw EngineError.invalidArgument("\(key) must be a uint64 (t)") }
            changes[key] = number
        }
        try await engine.setLimits(changes, requester: caller.uid)
        return []
    }

    /// What the STUN servers say about this host's NAT. Anyone may ask: the engine shares one look
    /// among all callers for a while, so asking often costs the servers nothing more.
    func discoverNAT(caller: Caller) async -> [DBusValue] {
        [await engine.natReport(requester: caller.uid).busValue(servers: engine.configuration.stunServers)]
    }

    /// One side of a punched route: an endpoint ID to receive into it (the caller's own, or any
    /// for an administrator), or "" to send.
    func preparePunch(_ arguments: [DBusValue], caller: Caller) async throws -> [DBusValue] {
        guard arguments.count == 1, let id = arguments[0].stringValue else {
            throw EngineError.invalidArgument("PreparePunch takes an endpoint ID, or \"\" for sending")
        }
        let endpoint = id.isEmpty ? nil : try await self.endpoint(arguments, caller: caller, rule: .ownerOr(.manageAll))
        let (handle, ticket, warnings) = try await engine.preparePunch(owner: caller.uid, endpoint: endpoint)
        return [.string(handle), .string(ticket), .strings(warnings)]
    }

    /// The receiving side of a punched route, with the sender's ticket: returns once connected.
    func punch(_ arguments: [DBusValue], caller: Caller) async throws -> [DBusValue] {
        guard arguments.count == 2, let handle = arguments[0].stringValue, let ticket = arguments[1].stringValue,
            handle.utf8.count <= 256, ticket.utf8.count <= 256
        else {
            throw EngineError.invalidArgument("Punch takes the handle PreparePunch gave and the sender's ticket, at most 256 bytes each")
        }
        return [.string(try await engine.punch(handle: handle, ticket: ticket, requester: caller.uid))]
    }

    /// The endpoint named by the ID argument, if the rule lets the caller use it. Another user's
    /// endpoint is "not found", exactly like one that does not exist, so IDs cannot be probed.
    func endpoint(_ arguments: [DBusValue], caller: Caller, rule: Authorization.Rule) async throws -> Endpoint {
        guard let text = arguments.first?.stringValue else { throw EngineError.invalidArgument("missing endpoint ID") }
        let id: EndpointID
        do {
            id = try EndpointID(parsing: text)
        } catch {
            throw EngineError.invalidArgument(error.description)
        }
        let found = await engine.endpoint(id: id)
        guard await authority.mayUse(objectOf: found?.owner, caller, rule: rule), let endpoint = found else {
            throw EngineError.notFound("no endpoint with this ID")
        }
        return endpoint
    }

    /// An `a(oa{sv})` reply.
    private static func objectList(_ objects: [(ObjectPath, [String: DBusValue])]) -> [DBusValue] {
        [.array(.structure([.objectPath, .dictionary(key: .string, value: .variant)]), objects.map { .structure([.objectPath($0.0), .vardict($0.1)]) })]
    }

    // MARK: Properties

    /// What the Manager's properties are read from, taken once per call.
    struct Snapshot: Sendable {
        let configuration: Configuration
        let limits: Limits
        let startTimestamp: UInt64
        let peerListeners: [String]
        let queued: Int
        let active: Int
    }

    func snapshot() async -> Snapshot {
        let counts = await engine.queueCounts
        return Snapshot(
            configuration: engine.configuration, limits: engine.limits.current, startTimestamp: startTimestamp,
            peerListeners: peerListeners, queued: counts.waiting, active: counts.running)
    }

    /// `HOST:PORT` with the default peer port when none is given.
    static func withPort(_ address: String) -> String {
        if address.hasPrefix("[") { return address.contains("]:") ? address : address + ":\(Configuration.defaultPeerPort)" }
        let colons = address.filter { $0 == ":" }.count
        if colons == 1 { return address }
        return colons == 0 ? address + ":\(Configuration.defaultPeerPort)" : "[\(address)]:\(Configuration.defaultPeerPort)"
    }

    // MARK: The object tree

    var objectManagerPath: ObjectPath? { Self.rootPath }

    func endpointObject(_ endpoint: Endpoint) -> EndpointObject {
        EndpointObject(snapshot: .init(endpoint: endpoint, relay: engine.relayStatus(of: endpoint)))
    }

    func transferObject(_ transfer: Transfer) -> TransferObject {
        TransferObject(transfer: transfer, engine: engine)
    }

    /// Every call on an object, standard interfaces included, comes through here first: the
    /// Manager is anyone's (`Authorization.manager`), an endpoint or a transfer exists for the
    /// caller only if the table lets it use that object (`Authorization.objects`).
    func object(at path: ObjectPath, for caller: Caller) async throws -> (any BusObject)? {
        if path == Self.rootPath { return ManagerObject(manager: self, authority: authority) }
        if let number = EndpointObject.number(of: path) {
            let endpoint = await engine.endpoint(number)
            guard await authority.mayUse(objectOf: endpoint?.owner, caller) else { return nil }
            return endpoint.map(endpointObject)
        }
        if let number = TransferObject.number(of: path) {
            let transfer = await engine.transfer(number)
            guard await authority.mayUse(objectOf: transfer?.owner, caller) else { return nil }
            return transfer.map(transferObject)
        }
        return nil
    }

    func childNodes(of path: ObjectPath, for caller: Caller) async throws -> [String] {
        let scope = await authority.scope(of: caller)
        let visible = [Self.rootPath] + (await engine.endpoints(in: scope).map(\.busPath)) + (await engine.transfers(in: scope).map(\.busPath))
        var children: [String] = []
        for objectPath in visible {
            guard let elements = objectPath.elements(below: path), let first = elements.first else { continue }
            let name = String(first)
            if !children.contains(name) { children.append(name) }
        }
        return children
    }

    func managedObjects(for caller: Caller) async throws -> [(ObjectPath, any BusObject)] {
        let scope = await authority.scope(of: caller)
        let endpoints: [(ObjectPath, any BusObject)] = await engine.endpoints(in: scope).map { ($0.busPath, endpointObject($0)) }
        let transfers: [(ObjectPath, any BusObject)] = await engine.transfers(in: scope).map { ($0.busPath, transferObject($0)) }
        return endpoints + transfers
    }
}

/// The root object: the Manager interface, dispatched through `DaemonBusTable.manager`.
struct ManagerObject: BusObject {
    let manager: Manager
    let authority: Authority
    var interfaces: [InterfaceDescription] { [DaemonBusTable.manager.description] }

    func call(_ method: InterfaceDescription.Method, of interface: String, arguments: [DBusValue], caller: Caller) async throws -> [DBusValue] {
        try await DaemonBusTable.manager.call(method.name, on: manager, arguments: arguments, caller: caller) { rule in
            // Who may call this at all; whose objects it may reach is checked by the handler.
            if case .administrator(let action) = rule {
                try await authority.requireAdministrator(caller, for: action)
            }
        }
    }

    func properties(of interface: String, caller: Caller) async throws -> [String: DBusValue] {
        DaemonBusTable.manager.values(of: await manager.snapshot())
    }
}
