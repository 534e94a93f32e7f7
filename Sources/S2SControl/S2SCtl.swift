public import ArgumentParser
import S2SClient
import S2SCore
#if canImport(Glibc)
import Glibc
#endif

/// `s2sctl`: the command line of s2s. It holds no state; everything goes through the daemon's
/// D-Bus API, so it can do nothing that the API would not let the caller do.
public struct S2SCtl: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "s2sctl",
        abstract: "Control s2sd: endpoints that receive files, and transfers.",
        discussion: """
            s2sctl talks to s2sd over D-Bus: the system instance by default (--system), or your own \
            instance on your session bus (--user). Commands that print data take --json for scripts.

            \(ExitStatus.documentation)
            """,
        version: S2SVersion.current,
        subcommands: [
            EndpointCommand.self, SendCommand.self, TransfersCommand.self, CancelCommand.self, PauseCommand.self,
            ResumeCommand.self, SetRateCommand.self, WatchCommand.self, StatusCommand.self, LimitsCommand.self,
            NatCommand.self,
        ])

    @OptionGroup var busOptions: BusOptions

    public init() {}

    /// Runs the command line and exits with one of ``ExitStatus``'s statuses.
    public static func runAsMain(arguments: [String]? = nil) async -> Never {
        let status: ExitStatus
        do {
            var command = try await asyncParseAsRoot(arguments)
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
            status = .success
        } catch {
            let (message, code) = report(error)
            if !message.isEmpty {
                if code == ExitStatus.success.rawValue { Output.line(message) } else { Output.error(message) }
            }
            Glibc.exit(code)
        }
        Glibc.exit(status.rawValue)
    }

    /// What to print for an error, and the exit status.
    static func report(_ error: any Error) -> (message: String, status: Int32) {
        switch error {
        case let failure as CommandFailure:
            return ("s2sctl: \(failure.message)", failure.status.rawValue)
        case let failure as MalformedReply:
            return ("s2sctl: \(failure.message)", ExitStatus.failure.rawValue)
        case let failure as DaemonCallError:
            return ("s2sctl: \(ErrorText.humanized(failure.message))", failure.exitStatus.rawValue)
        default:
            // ArgumentParser's own: help (0), usage errors (EX_USAGE, 64), the rest.
            return (fullMessage(for: error), exitCode(for: error).rawValue)
        }
    }
}
