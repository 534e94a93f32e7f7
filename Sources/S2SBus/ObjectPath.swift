/// A D-Bus object path, validated on construction so that libdbus never sees an invalid one
/// (its argument checks abort the process by default).
public struct ObjectPath: Sendable, Hashable, Comparable, CustomStringConvertible, ExpressibleByStringLiteral {
    public let rawValue: String

    /// Returns nil unless `rawValue` is a valid path: `/`, or `/`-separated non-empty elements of
    /// `[A-Za-z0-9_]` with no trailing `/`.
    public init?(_ rawValue: String) {
        guard ObjectPath.isValid(rawValue) else { return nil }
        self.rawValue = rawValue
    }

    /// For literals in source code, which are programmer input: an invalid literal is a bug.
    public init(stringLiteral value: String) {
        precondition(ObjectPath.isValid(value), "invalid object path literal \(value)")
        self.rawValue = value
    }

    public static func isValid(_ path: String) -> Bool {
        let bytes = Array(path.utf8)
        guard bytes.first == UInt8(ascii: "/") else { return false }
        if bytes.count == 1 { return true }
        guard bytes.last != UInt8(ascii: "/") else { return false }
        var previousWasSlash = false
        for byte in bytes {
            if byte == UInt8(ascii: "/") {
                if previousWasSlash { return false }
                previousWasSlash = true
                continue
            }
            previousWasSlash = false
            let isElementByte = (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A)
                || (byte >= 0x61 && byte <= 0x7A) || byte == UInt8(ascii: "_")
            if !isElementByte { return false }
        }
        return true
    }

    /// The path of a direct child; `element` must be a valid path element.
    public func appending(_ element: String) -> ObjectPath? {
        ObjectPath(rawValue == "/" ? "/" + element : rawValue + "/" + element)
    }

    /// The elements below `ancestor`, or nil when this path is not `ancestor` or below it.
    public func elements(below ancestor: ObjectPath) -> [Substring]? {
        if self == ancestor { return [] }
        let prefix = ancestor.rawValue == "/" ? "/" : ancestor.rawValue + "/"
        guard rawValue.hasPrefix(prefix) else { return nil }
        return rawValue.dropFirst(prefix.count).split(separator: "/")
    }

    public var description: String { rawValue }
    public static func < (lhs: ObjectPath, rhs: ObjectPath) -> Bool { lhs.rawValue < rhs.rawValue }
}
