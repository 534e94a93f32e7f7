import UnixSignals
import ArgumentParser
import FoundationEssentials
import Logging
import S2SBus
import S2SCore
import S2SNotify
import S2SSystemd
import ServiceLifecycle
#if canImport(Glibc)
import Glibc
#endif

/// `s2s-notify`, for the executables that run it: `s2s-notify` (Sources/s2s-notify) and the
/// package's multi-call binary (Sources/s2s).
public enum S2SNotifyMain {
    /// Parses the command line (or `arguments`, without the program's name) and runs the agent;
    /// exits the process on errors.
    public static func run(arguments: [String]? = nil) async {
        await S2SNotifyCommand.main(arguments)
    }
}

/// `s2s-notify`: the desktop notification agent of s2s, one per user session.
struct S2SNotifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "s2s-notify",
        abstract: "Show desktop notifications about your s2s transfers.",
        discussion: """
            s2s-notify follows s2sd over D-Bus (the system instance by default, your own with --user) \
            and shows notifications through the desktop's notification server \
            (org.freedesktop.Notifications on your session bus): a transfer arriving or leaving, with \
            a progress bar updated in place and a Cancel button; a transfer that arrived, with Open \
            folder; a failure, with its reason. Transfers that end close together into one endpoint \
            are told as one message ("12 files (3.4 MiB) arrived in Downloads").

            It waits for what is missing and never starts it: s2sd not running, its bus or the \
            notification server gone, it logs that once and carries on when they come back. It exits \
            with status 0 when the session bus closes (the session ended) or on SIGTERM or SIGINT, \
            and at once if another s2s-notify runs in the same session.

            Normally started with the graphical session: by the systemd user unit s2s-notify.service \
            ("systemctl --user enable --now s2s-notify.service"), or by the XDG autostart entry on \
            desktops without systemd user sessions. See /usr/share/doc/s2s/docs/notifications.md.

            Exit status: 0 on a clean exit, 1 when the session bus cannot be reached at start, 64 \
            (EX_USAGE) when the command line is wrong.
            """,
        version: S2SVersion.current)

    enum BusChoice: EnumerableFlag {
        case system, user

        static func help(for value: BusChoice) -> ArgumentHelp? {
            switch value {
            case .system: "Follow the system instance of s2sd, on the system bus (default)."
            case .user: "Follow your own s2sd --user, on your session bus."
            }
        }
    }

    @Flag(exclusivity: .exclusive, help: "Which s2sd to follow.")
    var bus: BusChoice = .system

    @Flag(name: .shortAndLong, help: "Log every notification shown and every event (debug level).")
    var verbose = false

    @Option(help: ArgumentHelp("The least time between two updates of a running transfer's notification.", valueName: "duration"))
    var updateInterval = "1s"

    @Option(help: ArgumentHelp(
        "How long a transfer runs before its notification appears (a quicker one shows only its result); 0 shows every one.",
        valueName: "duration"))
    var startDelay = "1s"

    @Option(help: ArgumentHelp(
        "Transfers ending within this time of each other into one endpoint (or to one destination) are told as one message.",
        valueName: "duration"))
    var coalesce = "10s"

    func validate() throws {
        for (name, value) in [("--update-interval", updateInterval), ("--start-delay", startDelay), ("--coalesce", coalesce)] {
            do {
                _ = try Units.parseDuration(value)
            } catch {
                throw ValidationError("\(name): \(error)")
            }
        }
        if (try? Units.parseDuration(updateInterval)) == 0 { throw ValidationError("--update-interval must be at least 1s") }
    }

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let destination: SystemdLogHandler.Destination =
            ServiceManager.stderrIsJournal(environment: environment) ? .journal : .standardError
        let level: Logger.Level = verbose ? .debug : .info
        LoggingSystem.bootstrap { label in
            SystemdLogHandler(label: label, identifier: "s2s-notify", destination: destination, level: level)
        }
        let logger = Logger(label: "s2s-notify")
        let settings = NotificationPlanner.Settings(
            startDelay: .seconds(try Units.parseDuration(startDelay)),
            updateInterval: .seconds(try Units.parseDuration(updateInterval)),
            coalesceWindow: .seconds(try Units.parseDuration(coalesce)))

        let session: BusConnection
        do {
            session = try await BusConnection.connect(.session, environment: environment)
        } catch {
            logger.critical("cannot reach the session bus, where notifications are shown: \(error)")
            throw ExitCode.failure
        }
        do {
            try await session.requestName(Self.instanceName)
        } catch let error as BusError where error.name == "org.freedesktop.DBus.Error.NameTaken" {
            logger.notice("another s2s-notify already runs in this session; exiting")
            return
        }

        let notifier = Notifier(
            configuration: Notifier.Configuration(
                daemonBus: bus == .user ? .session : .system, environment: environment, planner: settings, uid: getuid()),
            session: session, logger: logger)
        logger.info("starting", metadata: ["version": "\(S2SVersion.current)", "daemon_bus": "\(bus == .user ? "session" : "system")"])
        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                // The agent returning means the session ended: a clean stop, not a failure.
                services: [.init(service: NotifierService(notifier: notifier), successTerminationBehavior: .gracefullyShutdownGroup)],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        try await group.run()
        logger.info("stopped")
    }

    /// The name one agent holds on the session bus, so that a second one (the systemd unit and the
    /// autostart entry both starting it) exits at once.
    static let instanceName = "org.s2s.Notifier"
}

/// Runs the agent until the session ends or a graceful shutdown (SIGTERM, SIGINT), then removes
/// the notifications of running transfers.
struct NotifierService: Service {
    let notifier: Notifier

    func run() async throws {
        await cancelWhenGracefulShutdown { await notifier.run() }
        await notifier.shutDown()
    }
}
