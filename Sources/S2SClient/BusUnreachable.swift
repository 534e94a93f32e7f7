public import S2SBus

/// The bus itself could not be reached (no `dbus-daemon` listening, no session bus): what a
/// client says instead of libdbus's nested "disconnected from the bus: cannot connect to ...".
///
/// ``message`` follows ``DaemonCallError/message``: what is wrong, then what to do.
public struct BusUnreachable: Error, Sendable, CustomStringConvertible {
    /// The bus that could not be reached.
    public let bus: BusAddress
    /// libdbus's reason, innermost part only ("Failed to connect to socket /x: No such file or directory").
    public let reason: String

    public init(bus: BusAddress, error: any Error) {
        self.bus = bus
        var text = (error as? BusError).map { error -> String in
            if case .disconnected(let reason) = error { return reason }
            return error.description
        } ?? "\(error)"
        // "cannot connect to the system bus: REASON" → REASON: the message says which bus once.
        for prefix in ["cannot connect to the \(bus.description): ", "cannot register on the \(bus.description): "]
        where text.hasPrefix(prefix) {
            text.removeFirst(prefix.count)
        }
        reason = text
    }

    /// For people: one sentence on what is missing, one on what to do.
    public var message: String {
        switch bus {
        case .system:
            "cannot reach the system bus (\(reason)). Start D-Bus with \"systemctl start dbus\" (as root), "
                + "or use your own instance with \"s2sctl --user\"."
        case .session:
            "cannot reach your session bus (\(reason)). Log in to a session with a user bus "
                + "(\"systemctl --user status\" shows it), or set DBUS_SESSION_BUS_ADDRESS."
        case .address(let address):
            "cannot reach the bus at \(address) (\(reason))."
        }
    }

    public var description: String { message }
}
