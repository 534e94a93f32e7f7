/// A reply or signal from the daemon that does not have the shape its API promises: a daemon of
/// another version, or a bug. The message says what was wrong, for people.
public struct MalformedReply: Error, Sendable, CustomStringConvertible {
    public let message: String

    public init(message: String) {
        self.message = message
    }

    public var description: String { message }
}
