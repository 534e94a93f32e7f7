public import S2SBus
import S2SCore

/// A connection to s2sd's D-Bus API, with a typed call for each of its methods: what `s2sctl`,
/// `s2s-notify` and any other Swift program use to talk to the daemon.
///
/// Calls throw ``DaemonCallError`` when the daemon (or the bus) answers with an error and
/// ``MalformedReply`` when a reply does not have the shape the API promises.
public struct DaemonClient: Sendable {
    public let connection: BusConnection
    /// The bus the daemon is on, for ``DaemonCallError/message``.
    public let bus: BusAddress
    /// Whether a call may have the bus start the daemon (socket or bus activation). An agent
    /// that only watches passes false, so that it never starts a daemon nobody asked for.
    public let autoStart: Bool

    /// The Manager's object.
    public static let rootPath = ObjectPath(DaemonAPI.rootPath) ?? "/"

    /// A client on a connection the caller made (and closes).
    public init(connection: BusConnection, bus: BusAddress, autoStart: Bool = true) {
        self.connection = connection
        self.bus = bus
        self.autoStart = autoStart
    }

    /// Connects to `bus`; `environment` gives the bus addresses (`DBUS_SYSTEM_BUS_ADDRESS`,
    /// `DBUS_SESSION_BUS_ADDRESS`).
    public static func connect(_ bus: BusAddress, environment: [String: String], autoStart: Bool = true) async throws -> DaemonClient {
        DaemonClient(connection: try await BusConnection.connect(bus, environment: environment), bus: bus, autoStart: autoStart)
    }

    /// Calls a method of the daemon's API and returns the reply's arguments.
    /// `timeoutMilliseconds`: -1 for libdbus's default (25 s), for calls that answer at once.
    public func call(
        path: ObjectPath, interface: String, member: String, _ arguments: [DBusValue] = [], timeoutMilliseconds: Int32 = -1
    ) async throws -> [DBusValue] {
        do {
            return try await connection.call(
                destination: DaemonAPI.busName, path: path, interface: interface, member: member, arguments,
                timeoutMilliseconds: timeoutMilliseconds, autoStart: autoStart)
        } catch let error as BusError {
            throw DaemonCallError(busError: error, bus: bus)
        }
    }

    /// Calls a Manager method.
    public func manager(_ member: String, _ arguments: [DBusValue] = [], timeoutMilliseconds: Int32 = -1) async throws -> [DBusValue] {
        try await call(path: Self.rootPath, interface: DaemonAPI.managerInterface, member: member, arguments, timeoutMilliseconds: timeoutMilliseconds)
    }

    /// Every property of an object's interface (variants unwrapped).
    public func properties(of path: ObjectPath, interface: String) async throws -> [String: DBusValue] {
        let reply = try await call(path: path, interface: "org.freedesktop.DBus.Properties", member: "GetAll", [.string(interface)])
        guard let properties = reply.first?.stringKeyedValue else {
            throw MalformedReply(message: "the daemon sent malformed properties")
        }
        return properties.mapValues(\.unwrappingVariant)
    }

    /// One property of an object's interface (its variant unwrapped).
    public func property(_ name: String, of path: ObjectPath, interface: String) async throws -> DBusValue {
        let reply = try await call(
            path: path, interface: "org.freedesktop.DBus.Properties", member: "Get", [.string(interface), .string(name)])
        guard let value = reply.first else { throw MalformedReply(message: "the daemon sent a malformed \(name)") }
        return value.unwrappingVariant
    }

    /// The `(object path, properties)` pairs of a Manager method returning `a(oa{sv})`.
    func objects(_ method: String) async throws -> [(ObjectPath, [String: DBusValue])] {
        try PropertyReader.objects(in: try await manager(method), of: method)
    }

    /// The first argument of a reply, as `extract` reads it; anything else is malformed.
    func single<T>(_ reply: [DBusValue], _ extract: (DBusValue) -> T?) throws(MalformedReply) -> T {
        guard let value = reply.first.flatMap(extract) else { throw MalformedReply(message: "the daemon sent a malformed reply") }
        return value
    }
}
