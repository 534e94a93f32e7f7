public import S2SBus
import S2SCore

/// A call to the daemon that failed: an error reply (from the daemon, or from the bus when the
/// daemon is not there) or a broken connection.
///
/// ``message`` says what happened to people, with advice when s2sd is not running;
/// ``description`` is the technical form, for logs.
public struct DaemonCallError: Error, Sendable, CustomStringConvertible {
    public let busError: BusError
    /// The bus the call went to: the advice differs between the system and the session bus.
    public let bus: BusAddress

    public init(busError: BusError, bus: BusAddress) {
        self.busError = busError
        self.bus = bus
    }

    /// The daemon is not on the bus (and the bus did not, or was not asked to, start it).
    public var daemonIsAbsent: Bool {
        busError.name == StandardErrorName.serviceUnknown || busError.name == StandardErrorName.nameHasNoOwner
    }

    /// For people: the daemon's own message for its errors, how to start s2sd when it is absent.
    public var message: String {
        if daemonIsAbsent {
            return bus == .session
                ? "s2sd is not running on your session bus. Start it with \"systemctl --user start s2sd\", or run \"s2sd --user\"."
                : "s2sd is not running on the system bus. Start it with \"systemctl enable --now s2sd.socket\" (as root), or run \"s2sd --system\"."
        }
        switch busError.name {
        case StandardErrorName.accessDenied:
            return "the bus refused the call: \(busError.dbusErrorMessage)"
        case StandardErrorName.noReply:
            return "s2sd did not answer in time"
        case .some:
            return busError.dbusErrorMessage
        case nil:
            return busError.description
        }
    }

    public var description: String { busError.description }
}
