import Synchronization

/// The connection that sent a method call, as the bus identifies it.
public struct Caller: Sendable, Hashable {
    public let uniqueName: String
    public let uid: UInt32
    /// The call allowed interactive authorization (its header flag): an authorization check made
    /// for it may ask the user through an agent.
    public let allowsInteractiveAuthorization: Bool
    public init(uniqueName: String, uid: UInt32, allowsInteractiveAuthorization: Bool = false) {
        self.uniqueName = uniqueName
        self.uid = uid
        self.allowsInteractiveAuthorization = allowsInteractiveAuthorization
    }
    public var isRoot: Bool { uid == 0 }
}

/// An error that knows its D-Bus name, so that services reply with named errors.
public protocol DBusErrorConvertible: Error {
    var dbusErrorName: String { get }
    var dbusErrorMessage: String { get }
}

extension BusError: DBusErrorConvertible {
    public var dbusErrorName: String {
        switch self {
        case .remote(let name, _): name
        case .invalidValue, .unexpectedReply: StandardErrorName.invalidArgs
        default: StandardErrorName.failed
        }
    }
    public var dbusErrorMessage: String {
        if case .remote(_, let message) = self { message } else { description }
    }
}

/// An object exported on the bus, as one caller sees it.
public protocol BusObject: Sendable {
    /// The object's own interfaces; the server adds Peer, Introspectable and Properties.
    var interfaces: [InterfaceDescription] { get }
    /// Runs a method whose arguments already match the declared input signature.
    func call(_ method: InterfaceDescription.Method, of interface: String, arguments: [DBusValue], caller: Caller) async throws -> [DBusValue]
    /// Every property of `interface` with its current value.
    func properties(of interface: String, caller: Caller) async throws -> [String: DBusValue]
}

/// The objects a service exports. Each caller may see a different tree: that is how a service
/// keeps users from seeing one another's objects, even through Introspect or ObjectManager.
public protocol ObjectTree: Sendable {
    /// The object at `path` for `caller`, or nil when there is none that the caller may see.
    func object(at path: ObjectPath, for caller: Caller) async throws -> (any BusObject)?
    /// Names of the direct children of `path` that `caller` may see.
    func childNodes(of path: ObjectPath, for caller: Caller) async throws -> [String]
    /// Where `org.freedesktop.DBus.ObjectManager` is served, if anywhere.
    var objectManagerPath: ObjectPath? { get }
    /// The objects below `objectManagerPath` that `caller` may see.
    func managedObjects(for caller: Caller) async throws -> [(ObjectPath, any BusObject)]
}

/// Serves an `ObjectTree` on a connection: identifies each caller, validates each call against
/// the interface tables, answers the standard interfaces, and turns thrown errors into named
/// error replies. Calls run concurrently as child tasks of `run()`.
public final class ObjectServer: Sendable {
    public static let managedObjectsType = DBusType.dictionary(key: .objectPath, value: interfacesAndPropertiesType)
    public static let interfacesAndPropertiesType = DBusType.dictionary(
        key: .string, value: .dictionary(key: .string, value: .variant))

    public let connection: BusConnection
    private let tree: any ObjectTree
    private let state = Mutex(State())

    private struct State {
        var callerIDs: [String: UInt32] = [:]
        var callsInFlight = 0
        var lastCallEnded = ContinuousClock.now
    }

    public init(connection: BusConnection, tree: any ObjectTree) {
        self.connection = connection
        self.tree = tree
    }

    /// Serves calls until the connection closes. `peerVanished` is told the unique name of every
    /// connection that leaves the bus, so that the service can drop what it kept for it.
    /// `whenServing` runs once calls are being received, the moment to take a well-known name.
    public func run(
        whenServing: @Sendable () async throws -> Void = {},
        peerVanished: @escaping @Sendable (String) async -> Void = { _ in }
    ) async throws {
        let (calls, callSink) = AsyncStream<Message>.makeStream()
        await connection.setMethodCallHandler { callSink.yield($0) }
        let signals = await connection.signals()
        try await connection.addMatch(
            "type='signal',sender='org.freedesktop.DBus',interface='org.freedesktop.DBus',member='NameOwnerChanged',path='/org/freedesktop/DBus'")
        try await whenServing()
        await withDiscardingTaskGroup { group in
            group.addTask {
                for await signal in signals {
                    guard signal.member == "NameOwnerChanged", signal.sender == "org.freedesktop.DBus",
                        let arguments = try? signal.body(), arguments.count == 3,
                        let name = arguments[0].stringValue, name.hasPrefix(":"),
                        arguments[2].stringValue == ""
                    else { continue }
                    _ = self.state.withLock { $0.callerIDs.removeValue(forKey: name) }
                    await peerVanished(name)
                }
            }
            group.addTask {
                await self.connection.waitUntilDisconnected()
                callSink.finish()
            }
            for await call in calls {
                group.addTask { await self.serve(call) }
            }
        }
    }

    /// How long no method call has been running, or nil while one is.
    public var idleDuration: Duration? {
        state.withLock { $0.callsInFlight == 0 ? ContinuousClock.now - $0.lastCallEnded : nil }
    }

    private func serve(_ message: Message) async {
        state.withLock { $0.callsInFlight += 1 }
        defer {
            state.withLock {
                $0.callsInFlight -= 1
                $0.lastCallEnded = .now
            }
        }
        let reply: Message
        do {
            let values = try await dispatch(message)
            reply = try message.methodReturn(values)
        } catch {
            let named = error as? any DBusErrorConvertible
            do {
                reply = try message.errorReply(
                    name: named?.dbusErrorName ?? StandardErrorName.failed,
                    message: named?.dbusErrorMessage ?? "\(error)")
            } catch {
                return
            }
        }
        guard message.expectsReply else { return }
        do {
            try await connection.send(reply)
        } catch BusError.messageTooLarge(let size, let limit) {
            // The caller asked for more than the bus carries: an error to that caller, never a
            // lost connection for everyone.
            let text = "the reply would be \(size >> 20) MiB, more than the bus carries (\(limit >> 20) MiB); ask for less"
            if let error = try? message.errorReply(name: StandardErrorName.limitsExceeded, message: text) {
                try? await connection.send(error)
            }
        } catch {
        }
    }

    /// Resolves the caller's UID through the bus, once per connection.
    public func caller(of message: Message) async throws -> Caller {
        guard let sender = message.sender else {
            throw BusError.remote(name: StandardErrorName.accessDenied, message: "the call carries no sender")
        }
        let interactive = message.allowsInteractiveAuthorization
        if let uid = state.withLock({ $0.callerIDs[sender] }) {
            return Caller(uniqueName: sender, uid: uid, allowsInteractiveAuthorization: interactive)
        }
        let uid = try await connection.credentials(of: sender).uid
        state.withLock { $0.callerIDs[sender] = uid }
        return Caller(uniqueName: sender, uid: uid, allowsInteractiveAuthorization: interactive)
    }

    private func dispatch(_ message: Message) async throws -> [DBusValue] {
        guard let path = message.path, let member = message.member else {
            throw BusError.remote(name: StandardErrorName.unknownMethod, message: "call without path or member")
        }
        let caller = try await caller(of: message)
        let interfaceName = message.interface
        let arguments = try message.body()

        switch interfaceName {
        case StandardInterfaces.introspectable.name:
            try checkSignature(message, StandardInterfaces.introspectable, member)
            return [.string(try await introspect(path, caller))]
        case StandardInterfaces.properties.name:
            try checkSignature(message, StandardInterfaces.properties, member)
            return try await properties(member, arguments, path, caller)
        case StandardInterfaces.objectManager.name where path == tree.objectManagerPath:
            try checkSignature(message, StandardInterfaces.objectManager, member)
            return [try await managedObjects(caller)]
        default:
            break
        }

        guard let object = try await tree.object(at: path, for: caller) else {
            throw BusError.remote(name: StandardErrorName.unknownObject, message: "no object at \(path)")
        }
        let candidates = interfaceName.map { name in object.interfaces.filter { $0.name == name } } ?? object.interfaces
        if let interfaceName, candidates.isEmpty {
            throw BusError.remote(name: StandardErrorName.unknownInterface, message: "\(path) has no interface \(interfaceName)")
        }
        guard let interface = candidates.first(where: { $0.method(named: member) != nil }),
            let method = interface.method(named: member)
        else {
            throw BusError.remote(name: StandardErrorName.unknownMethod, message: "no method \(member) on \(path)")
        }
        guard message.signature == method.inputSignature else {
            throw BusError.remote(
                name: StandardErrorName.invalidArgs,
                message: "\(interface.name).\(member) takes arguments (\(method.inputSignature)), not (\(message.signature))")
        }
        let results = try await object.call(method, of: interface.name, arguments: arguments, caller: caller)
        guard results.map(\.type) == method.outputs.map(\.type) else {
            throw BusError.remote(name: StandardErrorName.failed, message: "internal error: \(member) produced a result of the wrong type")
        }
        return results
    }

    private func checkSignature(_ message: Message, _ interface: InterfaceDescription, _ member: String) throws {
        guard let method = interface.method(named: member) else {
            throw BusError.remote(name: StandardErrorName.unknownMethod, message: "no method \(member) in \(interface.name)")
        }
        guard message.signature == method.inputSignature else {
            throw BusError.remote(
                name: StandardErrorName.invalidArgs,
                message: "\(interface.name).\(member) takes arguments (\(method.inputSignature)), not (\(message.signature))")
        }
    }

    private func introspect(_ path: ObjectPath, _ caller: Caller) async throws -> String {
        let object = try await tree.object(at: path, for: caller)
        let children = try await tree.childNodes(of: path, for: caller)
        guard object != nil || !children.isEmpty else {
            throw BusError.remote(name: StandardErrorName.unknownObject, message: "no object at \(path)")
        }
        var interfaces: [InterfaceDescription] = []
        if let object {
            interfaces = [StandardInterfaces.peer, StandardInterfaces.introspectable, StandardInterfaces.properties]
            if path == tree.objectManagerPath { interfaces.append(StandardInterfaces.objectManager) }
            interfaces += object.interfaces
        }
        return Introspection.document(interfaces: interfaces, children: children)
    }

    private func properties(_ member: String, _ arguments: [DBusValue], _ path: ObjectPath, _ caller: Caller) async throws -> [DBusValue] {
        guard let object = try await tree.object(at: path, for: caller) else {
            throw BusError.remote(name: StandardErrorName.unknownObject, message: "no object at \(path)")
        }
        guard let interfaceName = arguments.first?.stringValue else {
            throw BusError.remote(name: StandardErrorName.invalidArgs, message: "missing interface name")
        }
        // GetAll with an empty interface name means every interface, as the specification allows.
        if member == "GetAll", interfaceName.isEmpty {
            var all: [String: DBusValue] = [:]
            for interface in object.interfaces {
                all.merge(try await object.properties(of: interface.name, caller: caller)) { current, _ in current }
            }
            return [.vardict(all)]
        }
        guard let interface = object.interfaces.first(where: { $0.name == interfaceName }) else {
            throw BusError.remote(name: StandardErrorName.unknownInterface, message: "\(path) has no interface \(interfaceName)")
        }
        switch member {
        case "GetAll":
            return [.vardict(try await object.properties(of: interfaceName, caller: caller))]
        case "Get", "Set":
            guard arguments.count >= 2, let name = arguments[1].stringValue else {
                throw BusError.remote(name: StandardErrorName.invalidArgs, message: "missing property name")
            }
            guard let property = interface.property(named: name) else {
                throw BusError.remote(name: StandardErrorName.unknownProperty, message: "\(interfaceName) has no property \(name)")
            }
            if member == "Set" {
                throw BusError.remote(name: StandardErrorName.propertyReadOnly, message: "\(interfaceName).\(property.name) is read-only")
            }
            guard let value = try await object.properties(of: interfaceName, caller: caller)[name] else {
                throw BusError.remote(name: StandardErrorName.failed, message: "internal error: \(name) has no value")
            }
            return [.variant(value)]
        default:
            throw BusError.remote(name: StandardErrorName.unknownMethod, message: "no method \(member) in \(StandardInterfaces.properties.name)")
        }
    }

    private func managedObjects(_ caller: Caller) async throws -> DBusValue {
        var entries: [DBusValue.DictEntry] = []
        for (path, object) in try await tree.managedObjects(for: caller) {
            entries.append(.init(.objectPath(path), try await Self.interfacesAndProperties(of: object, caller: caller)))
        }
        guard case .dictionary(let key, let value) = Self.managedObjectsType else { return .structure([]) }
        return .dictionary(key: key, value: value, entries)
    }

    /// The `a{sa{sv}}` of an object, as `GetManagedObjects` and `InterfacesAdded` carry it.
    public static func interfacesAndProperties(of object: any BusObject, caller: Caller) async throws -> DBusValue {
        var entries: [DBusValue.DictEntry] = []
        for interface in object.interfaces {
            entries.append(.init(.string(interface.name), .vardict(try await object.properties(of: interface.name, caller: caller))))
        }
        return .dictionary(key: .string, value: .dictionary(key: .string, value: .variant), entries)
    }

    // MARK: Signals

    /// `InterfacesAdded` for `object`, sent by the ObjectManager at `managerPath`, unicast to
    /// `destination`.
    public static func interfacesAdded(
        managerPath: ObjectPath, objectPath: ObjectPath, object: any BusObject, caller: Caller, destination: String
    ) async throws -> Message {
        try Message.signal(
            path: managerPath, interface: StandardInterfaces.objectManager.name, member: "InterfacesAdded",
            body: [.objectPath(objectPath), try await interfacesAndProperties(of: object, caller: caller)],
            destination: destination)
    }

    /// `InterfacesRemoved` for the object at `objectPath`, unicast to `destination`.
    public static func interfacesRemoved(
        managerPath: ObjectPath, objectPath: ObjectPath, interfaces: [String], destination: String
    ) throws -> Message {
        try Message.signal(
            path: managerPath, interface: StandardInterfaces.objectManager.name, member: "InterfacesRemoved",
            body: [.objectPath(objectPath), .strings(interfaces)], destination: destination)
    }

    /// `PropertiesChanged` for one interface of the object at `path`, unicast to `destination`.
    public static func propertiesChanged(
        at path: ObjectPath, interface: String, changed: [String: DBusValue], destination: String
    ) throws -> Message {
        try Message.signal(
            path: path, interface: StandardInterfaces.properties.name, member: "PropertiesChanged",
            body: [.string(interface), .vardict(changed), .strings([])], destination: destination)
    }
}
