#if canImport(Glibc)
import Glibc
#endif

/// A failure in the bus layer: an error reply from a peer, a broken connection, or a value that
/// cannot be put on the wire.
public enum BusError: Error, Sendable, Equatable, CustomStringConvertible {
    /// An error reply (or an error to send as a reply), with its D-Bus error name.
    case remote(name: String, message: String)
    /// The connection is closed or was never established.
    case disconnected(String)
    /// A value or name that libdbus would refuse.
    case invalidValue(String)
    /// A received message whose contents do not have the expected shape.
    case unexpectedReply(String)
    /// libdbus could not allocate memory.
    case outOfMemory(String)
    /// A system call failed.
    case system(String, Int32)
    /// A message larger than a bus carries (``BusConnection/maxMessageSize``): sending it would get
    /// the connection dropped.
    case messageTooLarge(size: Int, limit: Int)

    public var description: String {
        switch self {
        case .remote(let name, let message): "\(message) (\(name))"
        case .disconnected(let reason): "disconnected from the bus: \(reason)"
        case .invalidValue(let reason): "invalid D-Bus value: \(reason)"
        case .unexpectedReply(let reason): "unexpected reply: \(reason)"
        case .outOfMemory(let what): "out of memory in \(what)"
        case .system(let call, let code): "\(call): \(String(cString: strerror(code)))"
        case .messageTooLarge(let size, let limit): "a message of \(size) bytes is more than a bus carries (\(limit))"
        }
    }

    /// The D-Bus error name, for `remote` errors.
    public var name: String? {
        if case .remote(let name, _) = self { name } else { nil }
    }
}

/// Well-known error names of the D-Bus specification.
public enum StandardErrorName {
    public static let failed = "org.freedesktop.DBus.Error.Failed"
    public static let invalidArgs = "org.freedesktop.DBus.Error.InvalidArgs"
    public static let unknownMethod = "org.freedesktop.DBus.Error.UnknownMethod"
    public static let unknownObject = "org.freedesktop.DBus.Error.UnknownObject"
    public static let unknownInterface = "org.freedesktop.DBus.Error.UnknownInterface"
    public static let unknownProperty = "org.freedesktop.DBus.Error.UnknownProperty"
    public static let propertyReadOnly = "org.freedesktop.DBus.Error.PropertyReadOnly"
    public static let serviceUnknown = "org.freedesktop.DBus.Error.ServiceUnknown"
    public static let nameHasNoOwner = "org.freedesktop.DBus.Error.NameHasNoOwner"
    public static let noReply = "org.freedesktop.DBus.Error.NoReply"
    public static let accessDenied = "org.freedesktop.DBus.Error.AccessDenied"
    public static let noServer = "org.freedesktop.DBus.Error.NoServer"
    public static let fileNotFound = "org.freedesktop.DBus.Error.FileNotFound"
    public static let limitsExceeded = "org.freedesktop.DBus.Error.LimitsExceeded"
}
