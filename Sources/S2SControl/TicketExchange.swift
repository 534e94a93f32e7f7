import S2SBus
import S2SClient
import S2SCore
#if canImport(Glibc)
import Glibc
#endif

/// The hand-over of punch tickets that `endpoint punch` and `send --punch` share: print this
/// side's ticket, take the other side's from `--ticket` or from the terminal, and when the daemon
/// refuses a pasted ticket (a typo, the wrong side's), ask again: the prepared port stays.
struct TicketExchange {
    /// This side's ticket, and the side whose ticket it waits for ("sender", "receiver").
    let ownTicket: String
    let otherSide: String
    /// `--ticket`, when given.
    let given: String?

    /// Prints the ticket alone on standard output (for scripts) and how to use it on standard
    /// error, with the daemon's warnings.
    func announce(warnings: [String]) {
        Output.line(ownTicket)
        for warning in warnings { Output.error("s2sctl: warning: \(warning)") }
        Output.error("s2sctl: give the ticket above to the \(otherSide); it is good for 10 minutes")
    }

    /// Runs `use` with the other side's ticket until the daemon takes one. A ticket from
    /// `--ticket`, or standard input that is not a terminal, gets one try.
    func withOtherTicket<Result>(_ use: (String) async throws -> Result) async throws -> Result {
        let interactive = given == nil && isatty(STDIN_FILENO) == 1
        while true {
            let ticket = try given ?? read()
            do {
                return try await use(ticket)
            } catch let error as DaemonCallError where interactive && error.busError.name == DaemonErrorName.invalidArgument.rawValue {
                Output.error("s2sctl: \(error.message)")
            }
        }
    }

    private func read() throws -> String {
        Output.prompt("The \(otherSide)'s ticket: ")
        guard let line = readLine(strippingNewline: true) else {
            throw CommandFailure(message: "no \(otherSide)'s ticket on standard input", status: .usage)
        }
        let ticket = line.filter { !$0.isWhitespace }
        return ticket.isEmpty ? try read() : ticket
    }
}
