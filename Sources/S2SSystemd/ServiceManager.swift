import CSystemd
#if canImport(Glibc)
import Glibc
#endif

/// The service manager's side of the daemon protocol: readiness and status notifications, the
/// watchdog, and sockets passed by socket activation (sd_notify(3), sd_listen_fds(3)).
///
/// Everything here is a no-op or an empty answer when no service manager started the process.
public enum ServiceManager {
    /// Sends `state` (newline-separated `KEY=VALUE` assignments) to `$NOTIFY_SOCKET`.
    /// Returns false when there is no service manager to tell.
    @discardableResult
    public static func notify(_ state: String) throws(SystemdError) -> Bool {
        let result = sd_notify(0, state)
        guard result >= 0 else { throw SystemdError(call: "sd_notify", code: -result) }
        return result > 0
    }

    public static func ready(status: String) throws(SystemdError) {
        try notify("READY=1\nSTATUS=\(status.replacingNewlines)\nMAINPID=\(getpid())")
    }

    public static func status(_ status: String) throws(SystemdError) {
        try notify("STATUS=\(status.replacingNewlines)")
    }

    public static func stopping(status: String) throws(SystemdError) {
        try notify("STOPPING=1\nSTATUS=\(status.replacingNewlines)")
    }

    public static func watchdogPing() throws(SystemdError) {
        try notify("WATCHDOG=1")
    }

    /// The interval at which the manager expects `WATCHDOG=1`, when `WatchdogSec=` is set for us.
    public static func watchdogInterval() throws(SystemdError) -> Duration? {
        var microseconds: UInt64 = 0
        let result = sd_watchdog_enabled(0, &microseconds)
        guard result >= 0 else { throw SystemdError(call: "sd_watchdog_enabled", code: -result) }
        return result > 0 ? .microseconds(Int64(clamping: microseconds)) : nil
    }

    /// A socket passed by the service manager.
    public struct PassedSocket: Sendable {
        public let fd: Int32
        /// The name given by `FileDescriptorName=`, or "unknown".
        public let name: String
        /// Whether the fd is a listening stream socket.
        public let isListeningStream: Bool
    }

    /// Takes the sockets passed by socket activation (once: the environment is cleared so that
    /// children do not inherit them). Each is made close-on-exec.
    public static func takePassedSockets() throws(SystemdError) -> [PassedSocket] {
        var names: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = nil
        let count = sd_listen_fds_with_names(1, &names)
        guard count >= 0 else { throw SystemdError(call: "sd_listen_fds_with_names", code: -count) }
        defer {
            if let names {
                for index in 0..<Int(count) { free(names[index]) }
                free(names)
            }
        }
        var sockets: [PassedSocket] = []
        for index in 0..<count {
            let fd = S2S_SD_LISTEN_FDS_START + index
            guard fcntl(fd, F_SETFD, FD_CLOEXEC) == 0 else { throw SystemdError(call: "fcntl(FD_CLOEXEC) on passed fd \(fd)", code: errno) }
            let name = names?[Int(index)].map { String(cString: $0) } ?? "unknown"
            let listening = sd_is_socket(fd, AF_UNSPEC, Int32(SOCK_STREAM.rawValue), 1)
            guard listening >= 0 else { throw SystemdError(call: "sd_is_socket on passed fd \(fd)", code: -listening) }
            sockets.append(PassedSocket(fd: fd, name: name, isListeningStream: listening > 0))
        }
        return sockets
    }

    /// Whether standard error is connected to the journal (systemd sets `$JOURNAL_STREAM` to the
    /// device and inode of that stream), in which case structured logging is worth it.
    public static func stderrIsJournal(environment: [String: String]) -> Bool {
        guard let value = environment["JOURNAL_STREAM"] else { return false }
        let parts = value.split(separator: ":")
        guard parts.count == 2, let device = UInt64(parts[0]), let inode = UInt64(parts[1]) else { return false }
        var status = stat()
        guard fstat(2, &status) == 0 else { return false }
        return UInt64(status.st_dev) == device && UInt64(status.st_ino) == inode
    }
}

/// A libsystemd call that failed, with the errno it reported.
public struct SystemdError: Error, Sendable, CustomStringConvertible {
    public let call: String
    public let code: Int32
    public var description: String { "\(call): \(String(cString: strerror(code)))" }
}

extension String {
    var replacingNewlines: String { split(whereSeparator: \.isNewline).joined(separator: " ") }
}
