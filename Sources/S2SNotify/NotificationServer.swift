public import S2SBus

/// The desktop's notification server (`org.freedesktop.Notifications` on the session bus), as the
/// agent uses it: capabilities, `Notify` with `replaces_id`, `CloseNotification`.
public struct NotificationServer: Sendable {
    public static let busName = "org.freedesktop.Notifications"
    public static let interface = "org.freedesktop.Notifications"
    public static let path: ObjectPath = "/org/freedesktop/Notifications"

    /// The rules that route the server's broadcast signals and its coming and going to the agent
    /// (some servers send `ActionInvoked` only to the notification's sender, others broadcast).
    public static let matchRules = [
        "type='signal',sender='org.freedesktop.DBus',member='NameOwnerChanged',arg0='\(busName)'",
        "type='signal',interface='\(interface)',path='/org/freedesktop/Notifications'",
    ]

    /// The name shown as the sending application.
    public static let appName = "s2s"

    let connection: BusConnection
    /// Milliseconds to wait for the server: long enough for one to be activated.
    let timeout: Int32

    public init(connection: BusConnection, timeoutMilliseconds: Int32 = 10_000) {
        self.connection = connection
        self.timeout = timeoutMilliseconds
    }

    /// `GetCapabilities`; a server that can be activated on the bus is started by this call.
    public func capabilities() async throws -> ServerCapabilities {
        let reply = try await call("GetCapabilities")
        guard let names = reply.first?.stringArrayValue else {
            throw BusError.unexpectedReply("GetCapabilities returned \(reply)")
        }
        return ServerCapabilities(names)
    }

    /// The server's name and version, for the log.
    public func information() async throws -> String {
        let reply = try await call("GetServerInformation")
        let fields = reply.compactMap(\.stringValue)
        guard fields.count >= 3 else { throw BusError.unexpectedReply("GetServerInformation returned \(reply)") }
        return "\(fields[0]) \(fields[2]) (\(fields[1]))"
    }

    /// Shows `content`, replacing notification `replacing` if it is not 0; returns the ID.
    public func notify(_ content: NotificationContent, replacing: UInt32) async throws -> UInt32 {
        var hints: [String: DBusValue] = [
            "urgency": .byte(content.urgency.rawValue),
            "category": .string(content.category),
        ]
        if let progress = content.progress { hints["value"] = .int32(Int32(clamping: progress)) }
        let reply = try await call(
            "Notify",
            [
                .string(Self.appName), .uint32(replacing), .string(content.icon), .string(content.summary),
                .string(content.body), .strings(content.actionStrings), .vardict(hints), .int32(content.expireTimeout),
            ])
        guard let id = reply.first?.uint32Value else { throw BusError.unexpectedReply("Notify returned \(reply)") }
        return id
    }

    public func close(_ id: UInt32) async throws {
        _ = try await call("CloseNotification", [.uint32(id)])
    }

    private func call(_ member: String, _ arguments: [DBusValue] = []) async throws -> [DBusValue] {
        try await connection.call(
            destination: Self.busName, path: Self.path, interface: Self.interface, member: member, arguments,
            timeoutMilliseconds: timeout)
    }
}
