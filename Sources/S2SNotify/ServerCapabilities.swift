/// What the notification server on the session bus said it can do (`GetCapabilities`): the
/// agent offers buttons only to a server that shows them, and escapes text only for a server
/// that reads markup.
public struct ServerCapabilities: Sendable, Equatable {
    /// The server shows actions (buttons, a context menu): "Cancel", "Open folder".
    public var actions: Bool
    /// The body is read as the specification's markup subset: `&`, `<` and `>` must be escaped.
    public var bodyMarkup: Bool
    /// The server keeps notifications after they were shown (a message tray).
    public var persistence: Bool

    public init(actions: Bool = false, bodyMarkup: Bool = false, persistence: Bool = false) {
        self.actions = actions
        self.bodyMarkup = bodyMarkup
        self.persistence = persistence
    }

    /// From the strings `GetCapabilities` returns; unknown ones are ignored.
    public init(_ names: [String]) {
        let set = Set(names)
        self.init(actions: set.contains("actions"), bodyMarkup: set.contains("body-markup"), persistence: set.contains("persistence"))
    }
}
