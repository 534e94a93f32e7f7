import ArgumentParser
import FoundationEssentials
import S2SBus
import S2SClient
#if canImport(Glibc)
import Glibc
#endif

/// `--system` / `--user`, as systemctl has them.
struct BusOptions: ParsableArguments {
    @Flag(exclusivity: .exclusive, help: "Which s2sd to talk to.")
    var bus: BusChoice = .system

    enum BusChoice: EnumerableFlag {
        case system, user

        static func help(for value: BusChoice) -> ArgumentHelp? {
            switch value {
            case .system: "The system instance, on the system bus (default)."
            case .user: "Your own instance, on your session bus."
            }
        }
    }

    /// Connects to the daemon's bus.
    func client() async throws -> DaemonClient {
        let address: BusAddress = bus == .user ? .session : .system
        do {
            return try await DaemonClient.connect(address, environment: ProcessInfo.processInfo.environment)
        } catch {
            throw CommandFailure(message: BusUnreachable(bus: address, error: error).message, status: .unavailable)
        }
    }

    /// The flag that selects this bus, for commands printed as advice ("s2sctl --user ...").
    var flag: String { bus == .user ? " --user" : "" }
}

/// `--json`, for commands that print data.
struct JSONOption: ParsableArguments {
    @Flag(help: "Print JSON for scripts instead of text for people.")
    var json = false
}
