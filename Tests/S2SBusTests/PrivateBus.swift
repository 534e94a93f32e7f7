import Foundation
import S2SBus

/// A private `dbus-daemon` for one test suite, started as a child process and killed afterwards.
///
/// Spawned with posix_spawn rather than Foundation's Process, so that the signal mask and the
/// reaping are under our control; its output goes to /dev/null so that it cannot hold the test
/// runner's pipes open.
final class PrivateBus: @unchecked Sendable {
    let address: String
    private let pid: pid_t
    private let directory: String

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("s2s-bus-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let socket = directory + "/bus"
        let config = directory + "/bus.conf"
        try """
            <!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
             "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
            <busconfig>
              <type>session</type>
              <listen>unix:path=\(socket)</listen>
              <auth>EXTERNAL</auth>
              <policy context="default">
                <allow user="*"/>
                <allow own="*"/>
                <allow send_destination="*" eavesdrop="true"/>
                <allow receive_sender="*"/>
              </policy>
            </busconfig>
            """.write(toFile: config, atomically: true, encoding: .utf8)

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        for fd: Int32 in [0, 1, 2] {
            posix_spawn_file_actions_addopen(&actions, fd, "/dev/null", fd == 0 ? O_RDONLY : O_WRONLY, 0)
        }
        // Spawned from a dispatch worker thread, the child would inherit its blocked signals and
        // ignore SIGTERM: give it a clean mask and default handlers.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let arguments = ["/usr/bin/dbus-daemon", "--config-file=\(config)", "--nofork", "--nopidfile"]
        var argv = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var child: pid_t = 0
        let status = posix_spawn(&child, arguments[0], &actions, &attributes, &argv, environ)
        guard status == 0 else { throw BusError.system("posix_spawn dbus-daemon", status) }
        pid = child
        address = "unix:path=\(socket)"
        // Wait (at most 10 s) for the socket to appear.
        for _ in 0..<1000 where !FileManager.default.fileExists(atPath: socket) {
            usleep(10_000)
        }
    }

    /// The socket file appears at bind(), a moment before dbus-daemon listens on it: a connection
    /// refused in that moment is retried (for at most 10 s).
    func connect() async throws -> BusConnection {
        let deadline = ContinuousClock.now + .seconds(10)
        while true {
            do {
                return try await BusConnection.connect(.address(address), environment: [:])
            } catch BusError.disconnected(let reason) where reason.contains("Connection refused") && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(20))
            }
        }
    }

    deinit {
        kill(pid, SIGTERM)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        try? FileManager.default.removeItem(atPath: directory)
    }
}
