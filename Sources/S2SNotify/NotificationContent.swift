public import S2SBus

/// One notification as the agent wants it shown: the text, the progress bar, the buttons and what
/// they act on. Made by ``MessageComposer``; turned into a `Notify` call by ``NotificationServer``.
public struct NotificationContent: Sendable, Equatable {
    /// The specification's urgency levels (hint `urgency`, a byte).
    public enum Urgency: UInt8, Sendable {
        case low = 0, normal = 1, critical = 2
    }

    /// A button, with what it acts on, so that an `ActionInvoked` needs nothing else to be served.
    public enum Action: Sendable, Equatable {
        /// Cancels the running transfer at this object of the daemon.
        case cancel(ObjectPath)
        /// Shows the folder in the file manager: `items` selected in it where they are known.
        case openFolder(directory: String, items: [String])
    }

    public var summary: String
    /// Plain text, or escaped markup when the server reads markup.
    public var body: String
    public var icon: String
    /// 0 to 100 for a progress bar (hint `value`), nil for none.
    public var progress: Int?
    public var urgency: Urgency
    /// `transfer`, `transfer.complete`, `transfer.error` (the specification's categories).
    public var category: String
    public var actions: [Action]
    /// Milliseconds; -1 the server's default, 0 never (a running transfer stays until it ends).
    public var expireTimeout: Int32

    public init(
        summary: String, body: String, icon: String, progress: Int? = nil, urgency: Urgency = .normal,
        category: String, actions: [Action] = [], expireTimeout: Int32 = -1
    ) {
        self.summary = summary
        self.body = body
        self.icon = icon
        self.progress = progress
        self.urgency = urgency
        self.category = category
        self.actions = actions
        self.expireTimeout = expireTimeout
    }

    /// The `as` argument of `Notify`: key, label pairs. Opening the folder is also the default
    /// action (a click on the notification), which servers show without a button.
    public var actionStrings: [String] {
        actions.flatMap { action -> [String] in
            switch action {
            case .cancel: [ActionKey.cancel, "Cancel"]
            case .openFolder: [ActionKey.defaultAction, "Open folder", ActionKey.openFolder, "Open folder"]
            }
        }
    }

    /// The action an `ActionInvoked` key stands for, if this notification has it.
    public func action(forKey key: String) -> Action? {
        actions.first { action in
            switch action {
            case .cancel: key == ActionKey.cancel
            case .openFolder: key == ActionKey.openFolder || key == ActionKey.defaultAction
            }
        }
    }

    /// The action keys the agent uses on the bus.
    public enum ActionKey {
        public static let cancel = "cancel"
        public static let openFolder = "open-folder"
        /// The specification's key for a click on the notification itself.
        public static let defaultAction = "default"
    }
}
