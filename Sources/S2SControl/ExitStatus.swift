import S2SBus
import S2SClient
import S2SCore

/// The exit statuses of `s2sctl`: sysexits(3) where one fits, the same status for the same fault
/// in every subcommand. The root command's help lists them (and the man page's EXIT STATUS).
enum ExitStatus: Int32, Sendable {
    case success = 0
    /// The operation failed; the reason is on standard error.
    case failure = 1
    /// EX_USAGE: the command line is wrong.
    case usage = 64
    /// EX_DATAERR: an endpoint ID or address is malformed or mistyped.
    case dataError = 65
    /// EX_NOINPUT: a file or directory given does not exist or cannot be read.
    case noInput = 66
    /// EX_UNAVAILABLE: s2sd is not running, or the bus cannot be reached.
    case unavailable = 69
    /// EX_TEMPFAIL: the transfer was not finished, but stays queued and will be retried.
    case temporaryFailure = 75
    /// EX_NOPERM: the daemon or the bus refused: you may not do this.
    case noPermission = 77
    /// 128 + SIGINT: interrupted with Ctrl-C (the transfer was cancelled).
    case interrupted = 130

    /// The lines of the root command's help, for people and for the man page's EXIT STATUS.
    static let documentation = """
        Exit status (sysexits(3) where one fits): 0 success; 1 the operation failed (the reason is \
        printed on standard error); 64 the command line is wrong (EX_USAGE); 65 an endpoint ID or \
        address is malformed or mistyped (EX_DATAERR); 66 a file or directory given does not exist \
        or cannot be read (EX_NOINPUT); 69 s2sd is not running or the bus cannot be reached \
        (EX_UNAVAILABLE); 75 send stopped waiting, but the transfer stays queued and the daemon \
        retries it (EX_TEMPFAIL); 77 you may not do this (EX_NOPERM); 130 interrupted with Ctrl-C, \
        the transfer cancelled.
        """
}

/// A failed operation (as opposed to a wrong command line): its message for standard error and
/// its exit status.
struct CommandFailure: Error {
    let message: String
    var status: ExitStatus = .failure
}

extension DaemonCallError {
    /// The exit status for this error: the same fault gives the same status in every command.
    var exitStatus: ExitStatus {
        if daemonIsAbsent { return .unavailable }
        switch busError.name {
        case StandardErrorName.accessDenied, DaemonErrorName.accessDenied.rawValue: return .noPermission
        case DaemonErrorName.invalidPath.rawValue: return .noInput
        case StandardErrorName.noReply, nil: return .unavailable
        default: return .failure
        }
    }
}
