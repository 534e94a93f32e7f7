/// Error texts from the daemon made fit for people: a networking library's phrases (SwiftNIO's
/// `ChannelError` descriptions) that a daemon may still pass on become ours.
///
/// The daemon should not send them at all; this keeps clients readable with a daemon that does.
public enum ErrorText {
    /// Library phrases and what a person reads instead.
    static let replacements: [(library: String, ours: String)] = [
        ("I/O on closed channel", "the connection was closed"),
        ("Already closed", "the connection was already closed"),
        ("Output closed", "the connection was closed for sending"),
        ("Input closed", "the connection was closed for receiving"),
        ("End of file", "the connection ended early"),
        ("Connect timeout", "the connection timed out"),
        ("Inappropriate operation for state", "the connection was in the wrong state"),
    ]

    /// `text` with every library phrase replaced; anything else is left as it is.
    public static func humanized(_ text: String) -> String {
        var result = text
        for (library, ours) in replacements where result.contains(library) {
            result = result.replacing(library, with: ours)
        }
        return result
    }
}
