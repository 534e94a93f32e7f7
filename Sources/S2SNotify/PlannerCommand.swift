/// What the planner asks of the notification server, in order. Keys, not server IDs: the agent
/// owns the mapping, so the planner stays pure and testable.
public enum PlannerCommand: Sendable, Equatable {
    /// Shows `content` under `key`: replacing the key's notification if it has one, else taking
    /// over `takeOver`'s notification (which then belongs to `key`), else as a new one.
    case show(NotificationKey, NotificationContent, takeOver: NotificationKey?)
    /// Closes the key's notification.
    case close(NotificationKey)
    /// Leaves the key's notification on screen but never touches it again.
    case forget(NotificationKey)
}
