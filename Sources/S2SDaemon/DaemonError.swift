import S2SBus
import S2SCore

/// A failure that a method call reports to its caller as a named D-Bus error.
///
/// Messages say what was wrong with the request in words the caller can act on; they never carry
/// details of other users' objects.
struct DaemonError: Error, DBusErrorConvertible, CustomStringConvertible {
    let name: DaemonErrorName
    let message: String

    init(_ name: DaemonErrorName, _ message: String) {
        self.name = name
        self.message = message
    }

    public var dbusErrorName: String { name.rawValue }
    public var dbusErrorMessage: String { message }
    var description: String { message }

    static func accessDenied(_ message: String) -> DaemonError { .init(.accessDenied, message) }
    static func notFound(_ message: String) -> DaemonError { .init(.notFound, message) }
    static func invalidPath(_ message: String) -> DaemonError { .init(.invalidPath, message) }
    static func invalidArgument(_ message: String) -> DaemonError { .init(.invalidArgument, message) }
    static func limitExceeded(_ message: String) -> DaemonError { .init(.limitExceeded, message) }
    static func failed(_ message: String) -> DaemonError { .init(.failed, message) }
}
