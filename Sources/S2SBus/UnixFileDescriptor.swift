#if canImport(Glibc)
import Glibc
#endif

/// A Unix file descriptor that this process owns and closes when the last reference goes.
///
/// D-Bus moves descriptors between processes; ownership must be explicit so that every
/// descriptor received is closed exactly once, whichever path the code takes.
public final class UnixFileDescriptor: Sendable, Hashable, CustomStringConvertible {
    public let rawValue: Int32

    /// Takes ownership of `rawValue`.
    public init(taking rawValue: Int32) {
        self.rawValue = rawValue
    }

    /// Duplicates `rawValue` (close-on-exec); the caller keeps ownership of the original.
    public init(duplicating rawValue: Int32) throws(BusError) {
        let copy = fcntl(rawValue, F_DUPFD_CLOEXEC, 3)
        guard copy >= 0 else { throw BusError.system("fcntl(F_DUPFD_CLOEXEC)", errno) }
        self.rawValue = copy
    }

    deinit { close(rawValue) }

    public static func == (lhs: UnixFileDescriptor, rhs: UnixFileDescriptor) -> Bool { lhs === rhs }
    public func hash(into hasher: inout Hasher) { hasher.combine(ObjectIdentifier(self)) }
    public var description: String { "fd \(rawValue)" }
}
