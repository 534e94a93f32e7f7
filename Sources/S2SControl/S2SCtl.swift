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

            Exit status: 0 on success, 1 when the operation failed (the reason is printed on \
            standard error), 2 when the command line is wrong.
            """,
        version: S2SVersion.current,
        subcommands: [
            EndpointCommand.self, SendCommand.self, TransfersCommand.self, CancelCommand.self, PauseCommand.self,
            ResumeCommand.self, SetRateCommand.self, WatchCommand.self, StatusCommand.self, LimitsCommand.self,
        ])

    @OptionGroup var busOptions: BusOptions

    public init() {}

    /// Runs the command line and exits with 0, 1 or 2 (ArgumentParser alone would use 64 for
    /// usage errors).
    public static func runAsMain(arguments: [String]? = nil) async -> Never {
        do {
            var command = try parseAsRoot(arguments)
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
            Glibc.exit(0)
        } catch let failure as CommandFailure {
            Output.error("s2sctl: \(failure.message)")
            Glibc.exit(1)
        } catch let failure as MalformedReply {
            Output.error("s2sctl: \(failure.message)")
            Glibc.exit(1)
        } catch let failure as DaemonCallError {
            Output.error("s2sctl: \(failure.message)")
            Glibc.exit(1)
        } catch {
            let code = exitCode(for: error)
            let message = fullMessage(for: error)
            if code == .success {
                if !message.isEmpty { Output.line(message) }
                Glibc.exit(0)
            }
            if !message.isEmpty { Output.error(message) }
            Glibc.exit(code == .failure ? 1 : 2)
        }
    }
}

/// A failed operation (as opposed to a wrong command line): exit status 1.
struct CommandFailure: Error {
    let message: String
}
