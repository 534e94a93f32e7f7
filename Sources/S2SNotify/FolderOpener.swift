import FoundationEssentials
import Glibc
public import Logging
public import S2SBus

/// "Open folder": asks the desktop's file manager (`org.freedesktop.FileManager1` on the session
/// bus) to show what arrived, and falls back to `xdg-open DIRECTORY` where there is none.
public struct FolderOpener: Sendable {
    static let busName = "org.freedesktop.FileManager1"
    static let path: ObjectPath = "/org/freedesktop/FileManager1"

    let session: BusConnection
    let logger: Logger

    public init(session: BusConnection, logger: Logger) {
        self.session = session
        self.logger = logger
    }

    /// Shows `directory`, with `items` (paths inside it) selected when there are any.
    public func open(_ directory: String, selecting items: [String]) async {
        let existing = items.filter { FileManager.default.fileExists(atPath: $0) }
        let (member, uris) = existing.isEmpty
            ? ("ShowFolders", [Self.uri(directory)])
            : ("ShowItems", existing.map(Self.uri))
        do {
            _ = try await session.call(
                destination: Self.busName, path: Self.path, interface: Self.busName, member: member,
                [.strings(uris), .string("")], timeoutMilliseconds: 10_000)
            logger.info("asked the file manager to show \(directory)")
        } catch {
            logger.info("no file manager on the session bus (\(error)); running xdg-open \(directory)")
            runXDGOpen(directory)
        }
    }

    static func uri(_ path: String) -> String {
        URL(fileURLWithPath: path).absoluteString
    }

    /// Runs `xdg-open DIRECTORY` (found on PATH), its input from /dev/null, with the signal mask
    /// and dispositions a new program expects, and reaps it when it exits.
    private func runXDGOpen(_ directory: String) {
        var actions = posix_spawn_file_actions_t()
        var attributes = posix_spawnattr_t()
        guard posix_spawn_file_actions_init(&actions) == 0 else { return logger.error("cannot run xdg-open: posix_spawn_file_actions_init failed") }
        defer { posix_spawn_file_actions_destroy(&actions) }
        guard posix_spawnattr_init(&attributes) == 0 else { return logger.error("cannot run xdg-open: posix_spawnattr_init failed") }
        defer { posix_spawnattr_destroy(&attributes) }
        // The agent's threads block the signals it handles: the child must not inherit that.
        var noSignals = sigset_t()
        var allSignals = sigset_t()
        sigemptyset(&noSignals)
        sigfillset(&allSignals)
        let prepared = [
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0),
            posix_spawnattr_setsigmask(&attributes, &noSignals),
            posix_spawnattr_setsigdefault(&attributes, &allSignals),
            posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF)),
        ]
        if let failed = prepared.first(where: { $0 != 0 }) {
            return logger.error("cannot run xdg-open \(directory): \(String(cString: strerror(failed)))")
        }
        var argv: [UnsafeMutablePointer<CChar>?] = [String](["xdg-open", directory]).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var child: pid_t = 0
        let status = posix_spawnp(&child, "xdg-open", &actions, &attributes, &argv, environ)
        guard status == 0 else {
            return logger.error("cannot run xdg-open \(directory): \(String(cString: strerror(status)))")
        }
        // The child outlives this call (a file manager may take a while to answer): its own small
        // task waits for it, so that the notifier goes on with its signals.
        let logger = self.logger
        Task { await Self.reap(child, directory: directory, logger: logger) }
    }

    /// Waits for `child` to exit without holding a thread (`waitpid` with `WNOHANG`, every 100 ms)
    /// and logs a failure.
    static func reap(_ child: pid_t, directory: String, logger: Logger) async {
        while true {
            var status: Int32 = 0
            let result = waitpid(child, &status, WNOHANG)
            if result == child {
                // WIFEXITED and WEXITSTATUS, which are macros Swift cannot import.
                let exited = status & 0x7F == 0
                let code = (status >> 8) & 0xFF
                if !exited || code != 0 {
                    let how = exited ? "exited with status \(code)" : "was killed by signal \(status & 0x7F)"
                    logger.warning("xdg-open \(directory) \(how)")
                }
                return
            }
            if result < 0 && errno != EINTR {
                return logger.warning("cannot wait for xdg-open \(directory): \(String(cString: strerror(errno)))")
            }
            try? await Task.sleep(for: .milliseconds(100))
        }
    }
}
