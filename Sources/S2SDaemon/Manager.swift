import Logging
import S2SBus
import S2SCore
#if canImport(Glibc)
import Glibc
#endif

/// The daemon's service object: the Manager's methods and properties, and the tree of objects
/// each caller may see. Every method starts from the caller's identity, which the bus vouches for.
final class Manager: ObjectTree, Sendable {
    static let rootPath = ObjectPath(DaemonAPI.rootPath) ?? "/"
    static let endpointParent = ObjectPath(DaemonAPI.endpointPathPrefix) ?? "/"

    let registry: EndpointRegistry
    let subscribers = Subscribers()
    private let connection: BusConnection
    private let configuration: Configuration
    private let peerListeners: [String]
    private let startTimestamp: UInt64
    private let logger: Logger

    init(registry: EndpointRegistry, connection: BusConnection, configuration: Configuration, peerListeners: [String], logger: Logger) {
        self.registry = registry
        self.connection = connection
        self.configuration = configuration
        self.peerListeners = peerListeners
        self.startTimestamp = Clock.nowMicroseconds
        self.logger = logger
    }

    // MARK: Methods

    func call(_ method: InterfaceDescription.Method, arguments: [DBusValue], caller: Caller) async throws -> [DBusValue] {
        switch method.name {
        case "CreateEndpoint":
            guard arguments.count == 2, let directory = arguments[0].stringValue, let options = arguments[1].stringKeyedValue else {
                throw DaemonError.invalidArgument("CreateEndpoint takes a directory and an options dictionary")
            }
            return try await createEndpoint(directory: directory, options: options, caller: caller)
        case "ListEndpoints":
            let entries = await registry.endpoints(visibleTo: caller).map {
                DBusValue.structure([.objectPath($0.objectPath), .vardict($0.properties)])
            }
            return [.array(.structure([.objectPath, .dictionary(key: .string, value: .variant)]), entries)]
        case "GetEndpoint":
            return [.objectPath(try await endpoint(arguments, caller).objectPath)]
        case "DeleteEndpoint":
            let endpoint = try await endpoint(arguments, caller)
            try await registry.remove(endpoint)
            logger.info("endpoint deleted", metadata: endpoint.logMetadata(by: caller))
            await announceRemoval(of: [endpoint])
            return []
        case "Subscribe":
            await subscribers.add(caller)
            return []
        case "Unsubscribe":
            await subscribers.remove(caller.uniqueName)
            return []
        default:
            throw BusError.remote(name: StandardErrorName.unknownMethod, message: "no method \(method.name)")
        }
    }

    private func createEndpoint(directory requested: String, options rawOptions: [String: DBusValue], caller: Caller) async throws -> [DBusValue] {
        let options = try EndpointOptions(parsing: rawOptions)
        let user = try UserContext.lookup(uid: caller.uid)
        let directory = try await user.run { () throws(DaemonError) in
            try EndpointDirectory.check(requested, owner: caller.uid)
        }
        let endpoint = try await registry.create(owner: caller.uid, directory: directory, options: options, now: Clock.nowMicroseconds)
        logger.info("endpoint created", metadata: endpoint.logMetadata(by: caller))
        for subscriber in await subscribers.recipients(forOwner: endpoint.owner) {
            await send {
                try await ObjectServer.interfacesAdded(
                    managerPath: Self.rootPath, objectPath: endpoint.objectPath, object: EndpointObject(endpoint: endpoint),
                    caller: subscriber, destination: subscriber.uniqueName)
            }
        }
        return [.objectPath(endpoint.objectPath), .string(endpoint.id.text)]
    }

    /// The caller's endpoint named by the ID argument. Another user's endpoint is "not found",
    /// exactly like one that does not exist, so IDs cannot be probed.
    private func endpoint(_ arguments: [DBusValue], _ caller: Caller) async throws -> Endpoint {
        guard let text = arguments.first?.stringValue else { throw DaemonError.invalidArgument("missing endpoint ID") }
        let id: EndpointID
        do {
            id = try EndpointID(parsing: text)
        } catch {
            throw DaemonError.invalidArgument(error.description)
        }
        guard let endpoint = await registry.endpoint(id: id, visibleTo: caller) else {
            throw DaemonError.notFound("no endpoint with this ID")
        }
        return endpoint
    }

    /// Tells subscribers that endpoints are gone (deleted or expired).
    func announceRemoval(of endpoints: [Endpoint]) async {
        for endpoint in endpoints {
            for subscriber in await subscribers.recipients(forOwner: endpoint.owner) {
                await send {
                    try ObjectServer.interfacesRemoved(
                        managerPath: Self.rootPath, objectPath: endpoint.objectPath,
                        interfaces: EndpointObject.interfaceNames, destination: subscriber.uniqueName)
                }
            }
        }
    }

    private func send(_ makeSignal: () async throws -> Message) async {
        do {
            try await connection.send(try await makeSignal())
        } catch {
            logger.warning("cannot send a signal", metadata: ["error": "\(error)"])
        }
    }

    // MARK: Properties

    var properties: [String: DBusValue] {
        [
            "Version": .string(S2SVersion.current),
            "StartTimestamp": .uint64(startTimestamp),
            "PeerListeners": .strings(peerListeners),
            "MaxEndpointsPerUser": .uint64(configuration.maxEndpointsPerUser),
            "IdleTimeout": .uint64(configuration.idleTimeout.map { UInt64($0.components.seconds) * 1_000_000 } ?? DaemonAPI.unlimited),
        ]
    }

    // MARK: The object tree

    var objectManagerPath: ObjectPath? { Self.rootPath }

    func object(at path: ObjectPath, for caller: Caller) async throws -> (any BusObject)? {
        if path == Self.rootPath { return ManagerObject(manager: self) }
        guard let elements = path.elements(below: Self.endpointParent), elements.count == 1,
            let number = Int64(elements[0]), String(number) == elements[0]
        else { return nil }
        return await registry.endpoint(number: number, visibleTo: caller).map { EndpointObject(endpoint: $0) }
    }

    func childNodes(of path: ObjectPath, for caller: Caller) async throws -> [String] {
        let visible = [Self.rootPath] + (await registry.endpoints(visibleTo: caller).map(\.objectPath))
        var children: [String] = []
        for objectPath in visible {
            guard let elements = objectPath.elements(below: path), let first = elements.first else { continue }
            let name = String(first)
            if !children.contains(name) { children.append(name) }
        }
        return children
    }

    func managedObjects(for caller: Caller) async throws -> [(ObjectPath, any BusObject)] {
        await registry.endpoints(visibleTo: caller).map { ($0.objectPath, EndpointObject(endpoint: $0)) }
    }
}

/// The root object: the Manager interface.
struct ManagerObject: BusObject {
    let manager: Manager
    var interfaces: [InterfaceDescription] { [DaemonInterfaces.manager] }

    func call(_ method: InterfaceDescription.Method, of interface: String, arguments: [DBusValue], caller: Caller) async throws -> [DBusValue] {
        try await manager.call(method, arguments: arguments, caller: caller)
    }

    func properties(of interface: String, caller: Caller) async throws -> [String: DBusValue] {
        manager.properties
    }
}

/// One endpoint's object, as a snapshot taken when the call arrived.
struct EndpointObject: BusObject {
    static let interfaceNames = [DaemonInterfaces.endpoint.name]
    let endpoint: Endpoint
    var interfaces: [InterfaceDescription] { [DaemonInterfaces.endpoint] }

    func call(_ method: InterfaceDescription.Method, of interface: String, arguments: [DBusValue], caller: Caller) async throws -> [DBusValue] {
        throw BusError.remote(name: StandardErrorName.unknownMethod, message: "no method \(method.name)")
    }

    func properties(of interface: String, caller: Caller) async throws -> [String: DBusValue] {
        endpoint.properties
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
