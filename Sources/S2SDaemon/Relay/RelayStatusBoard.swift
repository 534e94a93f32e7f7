import S2SBus
import S2SPeer
import Synchronization

/// The relay state of every endpoint, written by the ``RelayWaiter``s and read for the
/// endpoints' bus properties `Relay` and `RelayConnected` (docs/dbus-api.md).
final class RelayStatusBoard: Sendable {
    private let entries = Mutex<[Int64: RelayWaiter.Status]>([:])

    func set(_ number: Int64, _ status: RelayWaiter.Status?) {
        entries.withLock { $0[number] = status }
    }

    func status(of number: Int64) -> RelayWaiter.Status? {
        entries.withLock { $0[number] }
    }

    /// The `Relay` (the chosen relay, "" without relays) and `RelayConnected` properties.
    func properties(of number: Int64) -> [String: DBusValue] {
        let status = status(of: number)
        return [
            "Relay": .string(status?.relay.description ?? ""),
            "RelayConnected": .boolean(status?.connected ?? false),
        ]
    }
}
