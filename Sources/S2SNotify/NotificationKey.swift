public import S2SBus
public import S2SCore

/// What a notification is about, as the planner names it; the agent maps each key to the ID the
/// server gave, so that an update replaces the notification in place (`replaces_id`).
public enum NotificationKey: Hashable, Sendable {
    /// The notification of one running (or just ended) transfer.
    case transfer(ObjectPath)
    /// The coalesced message about transfers that finished into one endpoint or to one destination.
    case batch(BatchKey)
}

/// Groups finished transfers into one message: the same direction and the same endpoint
/// (receiving) or destination (sending).
public struct BatchKey: Hashable, Sendable {
    public let direction: TransferDirection
    /// The endpoint's object path (receive) or `ID@HOST:PORT` (send).
    public let target: String

    public init(direction: TransferDirection, target: String) {
        self.direction = direction
        self.target = target
    }
}
