import CDBus

/// Validation of D-Bus names before they reach libdbus, whose own checks abort the process.
public enum Names {
    public static func validateBusName(_ name: String) throws(BusError) {
        try check(name, "bus name") { dbus_validate_bus_name($0, nil) }
    }

    public static func validateInterface(_ name: String) throws(BusError) {
        try check(name, "interface name") { dbus_validate_interface($0, nil) }
    }

    public static func validateMember(_ name: String) throws(BusError) {
        try check(name, "member name") { dbus_validate_member($0, nil) }
    }

    public static func validateErrorName(_ name: String) throws(BusError) {
        try check(name, "error name") { dbus_validate_error_name($0, nil) }
    }

    private static func check(
        _ name: String, _ what: String, _ validate: (UnsafePointer<CChar>) -> dbus_bool_t
    ) throws(BusError) {
        guard !name.utf8.contains(0), name.withCString(validate) != 0 else {
            throw BusError.invalidValue("invalid \(what) \"\(name.replacingNULs())\"")
        }
    }
}
