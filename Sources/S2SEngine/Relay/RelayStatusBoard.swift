import S2SPeer
import Synchronization

/// The relay state of every endpoint, written by the ``RelayWaiter``s and read for the
/// endpoints' bus properties `Relay` and `RelayConnected` (docs/dbus-api.md).
package final class RelayStatusBoard: Sendable {
    private let entries = Mutex<[Int64: RelayWaiter.Status]>([:])

    package func set(_ number: Int64, _ status: RelayWaiter.Status?) {
        entries.withLock { $0[number] = status }
    }

    package func status(of number: Int64) -> RelayWaiter.Status? {
        entries.withLock { $0[number] }
    }
}
