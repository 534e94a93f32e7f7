import ArgumentParser
import Logging
import S2SCore
import S2SDaemon
import S2SEngine
import S2SSystemd
#if canImport(Glibc)
import Glibc
#endif

/// `s2sd`, the s2s daemon, for the executables that run it: `s2sd` (Sources/s2sd) and the
/// package's multi-call binary (Sources/s2s).
public enum S2SDaemonMain {
    /// Parses the command line (or `arguments`, without the program's name) and runs the
    /// daemon; exits the process on errors.
    public static func run(arguments: [String]? = nil) async {
        await S2SDaemonCommand.main(arguments)
    }
}

/// `s2sd`: the s2s daemon, in the foreground. systemd starts it as `s2sd --system`.
struct S2SDaemonCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "s2sd",
        abstract: "The s2s daemon: receives files into endpoints and sends them, controlled over D-Bus.",
        discussion: """
            s2sd owns the endpoints and transfers of one machine (--system, the default, on the system \
            bus) or of one user (--user, on the user's session bus), and serves them under the name \
            org.s2s.Daemon1. It runs in the foreground and logs to standard error, or to the journal \
            with structured fields when systemd started it. SIGTERM and SIGINT stop it cleanly.

            Settings come from the configuration file (/etc/s2s/s2sd.conf for --system, \
            $XDG_CONFIG_HOME/s2s/s2sd.conf for --user), then from the options below. See \
            s2sd.conf(5) and /usr/share/doc/s2s/docs/configuration.md.
            """,
        version: S2SVersion.current)

    @Flag(exclusivity: .exclusive, help: "Which bus to serve on.")
    var bus: BusChoice = .system

    enum BusChoice: EnumerableFlag {
        case system, user

        static func help(for value: BusChoice) -> ArgumentHelp? {
            switch value {
            case .system: "Serve on the system bus for every user (default; DBUS_SYSTEM_BUS_ADDRESS is honoured)."
            case .user: "Serve on the session bus for the calling user only (DBUS_SESSION_BUS_ADDRESS is honoured)."
            }
        }
    }

    @Option(name: .customLong("config"), help: ArgumentHelp("Read settings from FILE, which must exist.", valueName: "file"))
    var configFile: String?

    @Option(help: ArgumentHelp("Keep state (the database with endpoint keys) in DIR.", valueName: "dir"))
    var stateDir: String?

    @Option(help: ArgumentHelp(
        "When started by socket or bus activation, exit after this long with nothing to do (0: never).",
        valueName: "duration"))
    var idleTimeout: String?

    @Option(help: ArgumentHelp(
        "Receive from senders on ADDR:PORT (repeatable; e.g. 0.0.0.0:7730 or [::]:7730). Without it, and without a "
            + "socket from s2sd.socket, the daemon only sends.",
        valueName: "addr:port"))
    var listen: [String] = []

    @Option(help: ArgumentHelp(
        "Use the transit relay at HOST:PORT (repeatable): endpoints wait there for senders, and `s2sctl send` "
            + "with a plain ID goes through it. Replaces the file's Relay= settings.",
        valueName: "host:port"))
    var relay: [String] = []

    @Option(help: ArgumentHelp(
        "The address senders reach this daemon at; `s2sctl endpoint new` then also prints ID@HOST:PORT (port 7730 "
            + "if none is given).",
        valueName: "host[:port]"))
    var externalAddress: String?

    @Option(help: ArgumentHelp("trace, debug, info, notice, warning, error or critical.", valueName: "level"))
    var logLevel: String?

    @Flag(help: ArgumentHelp(
        "Start with a new, empty state database although the state directory held one that is now missing, empty or "
            + "damaged. Without it s2sd refuses to start then, so that endpoints and their keys are never lost "
            + "silently; the old files are kept beside, renamed. See backups/ in the state directory first."))
    var newState = false

    func run() async throws {
        let environment = Environment.current
        let kind: Configuration.BusKind = bus == .system ? .system : .user
        var configuration = Configuration(bus: kind, environment: environment)
        do {
            let file = configFile ?? Configuration.defaultConfigFile(bus: kind, environment: environment)
            try configuration.load(file: file, required: configFile != nil)
            if let stateDir { try configuration.set("StateDirectory", to: absolutePath(stateDir)) }
            if let idleTimeout { try configuration.set("IdleTimeout", to: idleTimeout) }
            if let logLevel { try configuration.set("LogLevel", to: logLevel) }
            if !listen.isEmpty { try configuration.set("Listen", to: "") }
            for address in listen { try configuration.set("Listen", to: address) }
            if !relay.isEmpty { try configuration.set("Relay", to: "") }
            for address in relay { try configuration.set("Relay", to: address) }
            if let externalAddress { try configuration.set("ExternalAddress", to: externalAddress) }
            configuration.newState = newState
        } catch let error as Configuration.FileError {
            // EX_CONFIG (sysexits(3)): the configuration, not the command line, is at fault.
            Self.printError("s2sd: configuration: \(error)")
            throw ExitCode(Self.exitConfigurationError)
        } catch let error as Configuration.SettingError {
            throw ValidationError(error.reason)
        }

        let destination: SystemdLogHandler.Destination =
            ServiceManager.stderrIsJournal(environment: environment) ? .journal : .standardError
        let level = configuration.logLevel
        LoggingSystem.bootstrap { label in
            SystemdLogHandler(label: label, identifier: "s2sd", destination: destination, level: level)
        }
        let logger = Logger(label: "s2sd")
        do {
            try await Daemon.run(configuration: configuration, environment: environment, logger: logger)
        } catch {
            logger.critical("\(error)")
            throw ExitCode.failure
        }
    }
}

extension S2SDaemonCommand {
    /// EX_CONFIG of sysexits(3): a configuration file that is missing, unreadable or wrong.
    static let exitConfigurationError: Int32 = 78

    /// Writes one line to standard error.
    static func printError(_ line: String) {
        let bytes = Array((line + "\n").utf8)
        _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    }
}

/// The process environment as a dictionary.
enum Environment {
    static var current: [String: String] {
        var result: [String: String] = [:]
        var pointer = environ
        while let entry = pointer.pointee {
            let text = String(decoding: UnsafeRawBufferPointer(start: entry, count: strlen(entry)), as: UTF8.self)
            if let equals = text.firstIndex(of: "=") {
                result[String(text[..<equals])] = String(text[text.index(after: equals)...])
            }
            pointer += 1
        }
        return result
    }
}
