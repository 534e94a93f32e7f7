import Logging
import S2SBus
import S2SCore
import S2SProtocol
#if canImport(Glibc)
import Glibc
#endif

/// The daemon's service object: the Manager's methods and properties, and the tree of objects
/// each caller may see. Every method starts from the caller's identity, which the bus vouches for,
/// and from the rule `Authorization` has for it.
final class Manager: ObjectTree, Sendable {
    static let rootPath = ObjectPath(DaemonAPI.rootPath) ?? "/"
    static let endpointParent = ObjectPath(DaemonAPI.endpointPathPrefix) ?? "/"

    static let transferParent = ObjectPath(DaemonAPI.transferPathPrefix) ?? "/"

    let registry: EndpointRegistry
    let transfers: TransferRegistry
    let subscribers: Subscribers
    private let signals: SignalBroadcaster
    private let sending: SendContext
    private let configuration: Configuration
    private let authority: Authority
    let limits: LiveLimits
    private let sandbox: SandboxView
    private let peerListeners: [String]
    private let relayBoard: RelayStatusBoard
    private let startTimestamp: UInt64
    private let logger: Logger

    init(
        registry: EndpointRegistry, transfers: TransferRegistry, signals: SignalBroadcaster, sending: SendContext,
        configuration: Configuration, authority: Authority, limits: LiveLimits, sandbox: SandboxView, peerListeners: [String],
        relayBoard: RelayStatusBoard, logger: Logger
    ) {
        self.relayBoard = relayBoard
        self.registry = registry
        self.transfers = transfers
        self.signals = signals
        self.subscribers = signals.subscribers
        self.sending = sending
        self.configuration = configuration
        self.authority = authority
        self.limits = limits
        self.sandbox = sandbox
        self.peerListeners = peerListeners
        self.startTimestamp = Clock.nowMicroseconds
        self.logger = logger
    }

    // MARK: Methods

    func call(_ method: InterfaceDescription.Method, arguments: [DBusValue], caller: Caller) async throws -> [DBusValue] {
        // First the table: who may call this at all, and whose objects the call may reach.
        guard let rule = Authorization.rule(interface: DaemonAPI.managerInterface, method: method.name) else {
            throw BusError.remote(name: StandardErrorName.unknownMethod, message: "no method \(method.name)")
        }
        if case .administrator(let action) = rule {
            try await authority.requireAdministrator(caller, for: action)
        }
        switch method.name {
        case "CreateEndpoint":
            guard arguments.count == 2, let directory = arguments[0].stringValue, let options = arguments[1].stringKeyedValue else {
                throw DaemonError.invalidArgument("CreateEndpoint takes a directory and an options dictionary")
            }
            return try await createEndpoint(directory: directory, options: options, caller: caller)
        case "ListEndpoints":
            let entries = await registry.endpoints(in: await authority.scope(of: caller)).map {
                DBusValue.structure([.objectPath($0.objectPath), .vardict(EndpointObject(endpoint: $0, relayBoard: relayBoard).endpointProperties)])
            }
            return [.array(.structure([.objectPath, .dictionary(key: .string, value: .variant)]), entries)]
        case "GetEndpoint":
            return [.objectPath(try await endpoint(arguments, caller, rule).objectPath)]
        case "DeleteEndpoint":
            let endpoint = try await endpoint(arguments, caller, rule)
            try await registry.remove(endpoint)
            await transfers.cancelIncoming(endpoint: endpoint.number)
            logger.info("endpoint deleted", metadata: endpoint.logMetadata(by: caller))
            await announceRemoval(of: [endpoint])
            return []
        case "Send":
            guard arguments.count == 3, let sources = arguments[0].stringArrayValue, let destination = arguments[1].stringValue,
                let options = arguments[2].stringKeyedValue
            else {
                throw DaemonError.invalidArgument("Send takes sources, a destination and an options dictionary")
            }
            return try await send(sources: sources, destination: destination, options: options, caller: caller)
        case "ListTransfers":
            let entries = await transfers.transfers(in: await authority.scope(of: caller)).map {
                DBusValue.structure([.objectPath($0.objectPath), .vardict($0.properties)])
            }
            return [.array(.structure([.objectPath, .dictionary(key: .string, value: .variant)]), entries)]
        case "ListTransferHistory":
            let history: [Transfer]
            do {
                history = try await transfers.history(in: await authority.scope(of: caller))
            } catch {
                throw DaemonError.failed("cannot read the history: \(error)")
            }
            let entries = history.map { DBusValue.structure([.objectPath($0.objectPath), .vardict($0.properties)]) }
            return [.array(.structure([.objectPath, .dictionary(key: .string, value: .variant)]), entries)]
        case "ClearFinished":
            let scope = await authority.scope(of: caller)
            let owner: UInt32? = if case .owner(let uid) = scope { uid } else { nil }
            let cleared: Int
            do {
                cleared = try await transfers.clearFinished(owner: owner)
            } catch {
                throw DaemonError.failed("cannot clear the history: \(error)")
            }
            logger.info("finished transfers cleared", metadata: ["caller_uid": "\(caller.uid)", "count": "\(cleared)"])
            return [.uint32(UInt32(clamping: cleared))]
        case "Subscribe":
            await subscribers.add(caller, scope: await authority.scope(of: caller))
            return []
        case "Unsubscribe":
            await subscribers.remove(caller.uniqueName)
            return []
        case "SetLimits":
            guard arguments.count == 1, let changes = arguments[0].stringKeyedValue else {
                throw DaemonError.invalidArgument("SetLimits takes a dictionary of limits")
            }
            try await setLimits(changes, caller: caller)
            return []
        default:
            throw BusError.remote(name: StandardErrorName.unknownMethod, message: "no method \(method.name)")
        }
    }

    private func createEndpoint(directory requested: String, options rawOptions: [String: DBusValue], caller: Caller) async throws -> [DBusValue] {
        let options = try EndpointOptions(parsing: rawOptions)
        let user = try UserContext.lookup(uid: caller.uid)
        let sandbox = self.sandbox
        let directory = try await user.run { () throws(DaemonError) in
            try EndpointDirectory.check(requested, owner: caller.uid, sandbox: sandbox)
        }
        let endpoint = try await registry.create(owner: caller.uid, directory: directory, options: options, now: Clock.nowMicroseconds)
        logger.info("endpoint created", metadata: endpoint.logMetadata(by: caller))
        await signals.send(aboutObjectOf: endpoint.owner) { subscriber in
            try await ObjectServer.interfacesAdded(
                managerPath: Self.rootPath, objectPath: endpoint.objectPath, object: EndpointObject(endpoint: endpoint, relayBoard: relayBoard),
                caller: subscriber, destination: subscriber.uniqueName)
        }
        return [.objectPath(endpoint.objectPath), .string(endpoint.id.text)]
    }

    /// Scans the sources as the caller (a bad source fails the call), then queues the transfer
    /// (`SendQueue`); returns its object and what was skipped.
    private func send(sources: [String], destination text: String, options rawOptions: [String: DBusValue], caller: Caller) async throws -> [DBusValue] {
        let options = try SendOptions(parsing: rawOptions)
        guard !sources.isEmpty else { throw DaemonError.invalidArgument("nothing to send: no sources") }
        let destination = try Destination(parsing: text, hasRelays: !configuration.relays.isEmpty)
        let user = try UserContext.lookup(uid: caller.uid)
        let follow = options.followSymlinks
        let tree = try await user.run { () throws(DaemonError) in
            try SourceTree.scan(sources, followSymlinks: follow, maxEntries: ProtocolLimits.defaultMaxEntries)
        }
        let key = SendTokenStore.key(
            owner: caller.uid, destination: destination, sources: sources, digest: options.digest, followSymlinks: follow)
        do {
            // Taken now, so that the send's token exists before the call returns: an attempt
            // after a restart uses the same one.
            _ = try sending.tokens.token(for: key, now: Clock.nowMicroseconds)
        } catch {
            throw DaemonError.failed("cannot record the transfer: \(error)")
        }
        let transfer = try await sending.queue.add(
            owner: caller.uid, sources: sources, destination: destination, options: options, tree: tree, tokenKey: key)
        logger.info(
            "send queued",
            metadata: ["transfer": "\(transfer.number)", "caller_uid": "\(caller.uid)", "files": "\(tree.fileCount)",
                       "bytes": "\(tree.totalBytes)", "destination": "\(destination.routeDescription)",
                       "priority": "\(options.priority)"])
        return [.objectPath(transfer.objectPath), .strings(tree.warnings)]
    }

    /// Changes daemon-wide limits now and for the daemon's next starts (`limits.conf` in the
    /// state directory). Only for administrators: the table checked that before.
    private func setLimits(_ changes: [String: DBusValue], caller: Caller) async throws {
        let updated = try limits.current.applying(changes)
        try updated.save(inDirectory: configuration.stateDirectory)
        limits.replace(with: updated)
        await registry.setMaxEndpointsPerUser(updated.maxEndpointsPerUser)
        await sending.queue.schedule()
        var metadata: Logger.Metadata = ["caller_uid": "\(caller.uid)"]
        for (key, value) in updated.properties { metadata[key.lowercased()] = "\(value)" }
        logger.notice("limits changed", metadata: metadata)
    }

    /// The endpoint named by the ID argument, if the rule lets the caller use it. Another user's
    /// endpoint is "not found", exactly like one that does not exist, so IDs cannot be probed.
    private func endpoint(_ arguments: [DBusValue], _ caller: Caller, _ rule: Authorization.Rule) async throws -> Endpoint {
        guard let text = arguments.first?.stringValue else { throw DaemonError.invalidArgument("missing endpoint ID") }
        let id: EndpointID
        do {
            id = try EndpointID(parsing: text)
        } catch {
            throw DaemonError.invalidArgument(error.description)
        }
        let found = await registry.endpoint(id: id)
        guard await authority.mayUse(objectOf: found?.owner, caller, rule: rule), let endpoint = found else {
            throw DaemonError.notFound("no endpoint with this ID")
        }
        return endpoint
    }

    /// Tells subscribers that endpoints are gone (deleted or expired).
    func announceRemoval(of endpoints: [Endpoint]) async {
        for endpoint in endpoints {
            await signals.send(aboutObjectOf: endpoint.owner) { subscriber in
                try ObjectServer.interfacesRemoved(
                    managerPath: Self.rootPath, objectPath: endpoint.objectPath,
                    interfaces: EndpointObject.interfaceNames, destination: subscriber.uniqueName)
            }
        }
    }

    // MARK: Properties

    /// The Manager's properties, the queue's counters included.
    func currentProperties() async -> [String: DBusValue] {
        let counts = await sending.queue.counts
        return properties.merging([
            "QueuedSends": .uint32(UInt32(clamping: counts.waiting)),
            "ActiveSends": .uint32(UInt32(clamping: counts.running)),
        ]) { current, _ in current }
    }

    var properties: [String: DBusValue] {
        [
            "RetryFor": .uint64(UInt64(configuration.retryFor.components.seconds) * 1_000_000),
            "HistoryRetention": .uint64(UInt64(configuration.historyRetention.components.seconds) * 1_000_000),
            "Version": .string(S2SVersion.current),
            "StartTimestamp": .uint64(startTimestamp),
            "PeerListeners": .strings(peerListeners),
            "IdleTimeout": .uint64(configuration.idleTimeout.map { UInt64($0.components.seconds) * 1_000_000 } ?? DaemonAPI.unlimited),
            "ExternalAddress": .string(configuration.externalAddress.map(Self.withPort) ?? ""),
        ].merging(limits.current.properties) { current, _ in current }
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

    /// Every call on an object, standard interfaces included, comes through here first: the
    /// Manager is anyone's (`Authorization.manager`), an endpoint or a transfer exists for the
    /// caller only if the table lets it use that object (`Authorization.objects`).
    func object(at path: ObjectPath, for caller: Caller) async throws -> (any BusObject)? {
        if path == Self.rootPath { return ManagerObject(manager: self) }
        if let number = Self.number(of: path, below: Self.endpointParent) {
            let endpoint = await registry.current(number)
            guard await authority.mayUse(objectOf: endpoint?.owner, caller) else { return nil }
            return endpoint.map { EndpointObject(endpoint: $0, relayBoard: relayBoard) }
        }
        if let number = Self.number(of: path, below: Self.transferParent) {
            let transfer = await transfers.transfer(number: number)
            guard await authority.mayUse(objectOf: transfer?.owner, caller) else { return nil }
            return transfer.map { TransferObject(transfer: $0, queue: sending.queue) }
        }
        return nil
    }

    /// N of `parent/N`, written canonically.
    private static func number(of path: ObjectPath, below parent: ObjectPath) -> Int64? {
        guard let elements = path.elements(below: parent), elements.count == 1, let number = Int64(elements[0]),
            String(number) == elements[0]
        else { return nil }
        return number
    }

    func childNodes(of path: ObjectPath, for caller: Caller) async throws -> [String] {
        let scope = await authority.scope(of: caller)
        let visible = [Self.rootPath] + (await registry.endpoints(in: scope).map(\.objectPath))
            + (await transfers.transfers(in: scope).map(\.objectPath))
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
        let endpoints: [(ObjectPath, any BusObject)] = await registry.endpoints(in: scope).map {
            ($0.objectPath, EndpointObject(endpoint: $0, relayBoard: relayBoard))
        }
        let running: [(ObjectPath, any BusObject)] = await transfers.transfers(in: scope).map {
            ($0.objectPath, TransferObject(transfer: $0, queue: sending.queue))
        }
        return endpoints + running
    }
}

/// What `Send` needs besides the registries.
struct SendContext: Sendable {
    let tokens: SendTokenStore
    let queue: SendQueue
}

/// The root object: the Manager interface.
struct ManagerObject: BusObject {
    let manager: Manager
    var interfaces: [InterfaceDescription] { [DaemonInterfaces.manager] }

    func call(_ method: InterfaceDescription.Method, of interface: String, arguments: [DBusValue], caller: Caller) async throws -> [DBusValue] {
        try await manager.call(method, arguments: arguments, caller: caller)
    }

    func properties(of interface: String, caller: Caller) async throws -> [String: DBusValue] {
        await manager.currentProperties()
    }
}

/// One endpoint's object, as a snapshot taken when the call arrived.
struct EndpointObject: BusObject {
    static let interfaceNames = [DaemonInterfaces.endpoint.name]
    let endpoint: Endpoint
    /// Where the endpoint waits on the relay route.
    let relayBoard: RelayStatusBoard
    var interfaces: [InterfaceDescription] { [DaemonInterfaces.endpoint] }

    /// The Endpoint interface's properties: the stored ones and the relay state.
    var endpointProperties: [String: DBusValue] {
        endpoint.properties.merging(relayBoard.properties(of: endpoint.number)) { stored, _ in stored }
    }

    func call(_ method: InterfaceDescription.Method, of interface: String, arguments: [DBusValue], caller: Caller) async throws -> [DBusValue] {
        throw BusError.remote(name: StandardErrorName.unknownMethod, message: "no method \(method.name)")
    }

    func properties(of interface: String, caller: Caller) async throws -> [String: DBusValue] {
        endpointProperties
    }
}

extension Endpoint {
    /// What the log says about an endpoint: never the ID, which is a capability to send to it.
    func logMetadata(by caller: Caller) -> Logger.Metadata {
        ["endpoint": "\(number)", "owner": "\(owner)", "directory": "\(directory.path)", "caller_uid": "\(caller.uid)"]
    }
}

/// Wall-clock time in the units of the API.
enum Clock {
    static var nowMicroseconds: UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return UInt64(time.tv_sec) * 1_000_000 + UInt64(time.tv_nsec / 1000)
    }
}
