import CDBus

/// Calls to the message bus itself (`org.freedesktop.DBus`).
extension BusConnection {
    static let busName = "org.freedesktop.DBus"
    static let busPath: ObjectPath = "/org/freedesktop/DBus"

    private func callBus(_ member: String, _ arguments: [DBusValue]) async throws -> [DBusValue] {
        let message = try Message.methodCall(
            destination: Self.busName, path: Self.busPath, interface: Self.busName, member: member, body: arguments)
        return try await call(message).body()
    }

    /// Takes `name` as primary owner, without queueing: a second daemon must fail, not wait.
    public func requestName(_ name: String) async throws {
        try Names.validateBusName(name)
        let reply = try await callBus("RequestName", [.string(name), .uint32(UInt32(S2S_DBUS_NAME_FLAG_DO_NOT_QUEUE))])
        guard let code = reply.first?.uint32Value else { throw BusError.unexpectedReply("RequestName: \(reply)") }
        guard code == UInt32(S2S_DBUS_REQUEST_NAME_REPLY_PRIMARY_OWNER) || code == UInt32(S2S_DBUS_REQUEST_NAME_REPLY_ALREADY_OWNER) else {
            throw BusError.remote(name: "org.freedesktop.DBus.Error.NameTaken", message: "\(name) is already owned on the bus")
        }
    }

    public func releaseName(_ name: String) async throws {
        try Names.validateBusName(name)
        _ = try await callBus("ReleaseName", [.string(name)])
    }

    /// Asks the bus to route broadcast signals matching `rule` to this connection.
    public func addMatch(_ rule: String) async throws {
        guard !rule.utf8.contains(0) else { throw BusError.invalidValue("match rule contains NUL") }
        _ = try await callBus("AddMatch", [.string(rule)])
    }

    /// What the bus knows of the process that owns `name`, as it saw it when it connected
    /// (`GetConnectionCredentials`): the kernel's word, not the peer's.
    public func credentials(of name: String) async throws -> PeerCredentials {
        try Names.validateBusName(name)
        let reply = try await callBus("GetConnectionCredentials", [.string(name)])
        guard let fields = reply.first?.stringKeyedValue, let uid = fields["UnixUserID"]?.unwrappingVariant.uint32Value else {
            throw BusError.unexpectedReply("GetConnectionCredentials without UnixUserID")
        }
        return PeerCredentials(
            uid: uid,
            pid: fields["ProcessID"]?.unwrappingVariant.uint32Value,
            groups: fields["UnixGroupIDs"]?.unwrappingVariant.arrayValue?.compactMap(\.uint32Value))
    }

    /// The unique name of the connection that owns `name`, or nil when nobody does.
    public func nameOwner(_ name: String) async throws -> String? {
        try Names.validateBusName(name)
        do {
            return try await callBus("GetNameOwner", [.string(name)]).first?.stringValue
        } catch let error as BusError where error.name == StandardErrorName.nameHasNoOwner {
            return nil
        }
    }

    /// Whether any connection owns `name` now.
    public func nameHasOwner(_ name: String) async throws -> Bool {
        try Names.validateBusName(name)
        let reply = try await callBus("NameHasOwner", [.string(name)])
        guard let owned = reply.first?.boolValue else { throw BusError.unexpectedReply("NameHasOwner: \(reply)") }
        return owned
    }
}

extension BusConnection {
    /// Calls a method and returns the reply's arguments (`autoStart`: see `Message.methodCall`).
    public func call(
        destination: String, path: ObjectPath, interface: String, member: String, _ arguments: [DBusValue] = [],
        timeoutMilliseconds: Int32 = BusConnection.defaultTimeout, autoStart: Bool = true
    ) async throws -> [DBusValue] {
        let message = try Message.methodCall(
            destination: destination, path: path, interface: interface, member: member, body: arguments,
            autoStart: autoStart)
        return try await call(message, timeoutMilliseconds: timeoutMilliseconds).body()
    }
}

/// A peer's identity as the bus daemon recorded it from the socket when the peer connected.
public struct PeerCredentials: Sendable, Equatable {
    public let uid: UInt32
    public let pid: UInt32?
    /// Every group of the process, where the bus knows them.
    public let groups: [UInt32]?
}
