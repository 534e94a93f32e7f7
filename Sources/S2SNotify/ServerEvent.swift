public import S2SBus

/// What the session bus tells the agent about notifications: a button pressed, a notification
/// gone, a notification server starting or stopping.
public enum ServerEvent: Sendable, Equatable {
    /// `ActionInvoked(id, key)`.
    case actionInvoked(id: UInt32, key: String)
    /// `NotificationClosed(id, reason)`: 1 expired, 2 dismissed by the user, 3 closed by a call.
    case closed(id: UInt32, reason: UInt32)
    /// `NameOwnerChanged` of `org.freedesktop.Notifications`: empty when the server went away.
    case ownerChanged(newOwner: String)

    /// The event a signal stands for, or nil for any other signal.
    public init?(signal: Message) {
        guard let member = signal.member, let body = try? signal.body() else { return nil }
        switch (signal.interface, member) {
        case (NotificationServer.interface, "ActionInvoked"):
            guard body.count >= 2, let id = body[0].uint32Value, let key = body[1].stringValue else { return nil }
            self = .actionInvoked(id: id, key: key)
        case (NotificationServer.interface, "NotificationClosed"):
            guard body.count >= 2, let id = body[0].uint32Value, let reason = body[1].uint32Value else { return nil }
            self = .closed(id: id, reason: reason)
        case ("org.freedesktop.DBus", "NameOwnerChanged"):
            guard body.count == 3, body[0].stringValue == NotificationServer.busName, let owner = body[2].stringValue else { return nil }
            self = .ownerChanged(newOwner: owner)
        default:
            return nil
        }
    }
}
