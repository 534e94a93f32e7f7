#if canImport(Glibc)
import Glibc
#endif

/// Where a bus is: the system bus, the user's session bus, or an explicit address.
public enum BusAddress: Sendable, Equatable, CustomStringConvertible {
    case system
    case session
    case address(String)

    /// The address to connect to, following the conventions of libdbus and sd-bus:
    /// `DBUS_SYSTEM_BUS_ADDRESS` or the standard socket for the system bus;
    /// `DBUS_SESSION_BUS_ADDRESS`, else `$XDG_RUNTIME_DIR/bus`, else `/run/user/UID/bus`, for
    /// the session bus. Never X11 autolaunch, which a daemon must not trigger.
    public func resolve(environment: [String: String]) throws(BusError) -> String {
        switch self {
        case .address(let address):
            return address
        case .system:
            if let address = environment["DBUS_SYSTEM_BUS_ADDRESS"], !address.isEmpty { return address }
            return "unix:path=/run/dbus/system_bus_socket"
        case .session:
            if let address = environment["DBUS_SESSION_BUS_ADDRESS"], !address.isEmpty { return address }
            let runtimeDirectory = environment["XDG_RUNTIME_DIR"].flatMap { $0.isEmpty ? nil : $0 }
                ?? "/run/user/\(getuid())"
            let socketPath = runtimeDirectory + "/bus"
            guard access(socketPath, F_OK) == 0 else {
                throw BusError.disconnected(
                    "no session bus: DBUS_SESSION_BUS_ADDRESS is not set and \(socketPath) does not exist")
            }
            return "unix:path=" + Self.escape(socketPath)
        }
    }

    /// Escapes a value for a D-Bus address (everything but `[-0-9A-Za-z_/.\*]` as `%XX`).
    static func escape(_ value: String) -> String {
        var result = ""
        for byte in value.utf8 {
            let isOptionallyEscaped = (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A)
                || (byte >= 0x61 && byte <= 0x7A) || "-_/.\\*".utf8.contains(byte)
            if isOptionallyEscaped {
                result.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                result += "%" + String(byte, radix: 16, uppercase: false).leftPadded(to: 2)
            }
        }
        return result
    }

    public var description: String {
        switch self {
        case .system: "system bus"
        case .session: "user bus"
        case .address(let address): "bus at \(address)"
        }
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
