import ArgumentParser
import Foundation
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
        do {
            return try await DaemonClient.connect(bus == .user ? .session : .system, environment: ProcessInfo.processInfo.environment)
        } catch {
            throw CommandFailure(message: "cannot connect to \(bus == .user ? "your session bus" : "the system bus"): \(error)")
        }
    }
}

/// `--json`, for commands that print data.
struct JSONOption: ParsableArguments {
    @Flag(help: "Print JSON for scripts instead of text for people.")
    var json = false
}
