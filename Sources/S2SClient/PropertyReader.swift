public import S2SBus

/// Reads an object's properties as the daemon sent them, with a clear failure for a missing or
/// mistyped one (a daemon of another version); shared by every client's view of an object.
public struct PropertyReader: Sendable {
    public let properties: [String: DBusValue]
    /// "an endpoint", "a transfer": for the message.
    public let object: String

    public init(properties: [String: DBusValue], object: String) {
        self.properties = properties
        self.object = object
    }

    /// The property `name` as `extract` reads it; a missing or mistyped one is malformed.
    public func required<T>(_ name: String, _ extract: (DBusValue) -> T?) throws(MalformedReply) -> T {
        guard let value = optional(name, extract) else {
            throw MalformedReply(message: "the daemon sent \(object) without a valid \(name)")
        }
        return value
    }

    /// A required string property that the daemon leaves empty for "none": nil when empty.
    public func text(_ name: String) throws(MalformedReply) -> String? {
        let value = try required(name, \.stringValue)
        return value.isEmpty ? nil : value
    }

    /// A property that daemons of older versions do not have: nil when absent (or mistyped).
    public func optional<T>(_ name: String, _ extract: (DBusValue) -> T?) -> T? {
        properties[name].flatMap { extract($0.unwrappingVariant) }
    }

    /// The `(object path, properties)` pairs of a Manager method's `a(oa{sv})` reply
    /// (ListEndpoints, ListTransfers).
    public static func objects(in reply: [DBusValue], of method: String) throws(MalformedReply) -> [(ObjectPath, [String: DBusValue])] {
        guard let entries = reply.first?.arrayValue else { throw MalformedReply(message: "the daemon sent a malformed reply") }
        var result: [(ObjectPath, [String: DBusValue])] = []
        for entry in entries {
            guard let fields = entry.structureValue, fields.count == 2, let path = fields[0].objectPathValue,
                let properties = fields[1].stringKeyedValue
            else { throw MalformedReply(message: "the daemon sent a malformed \(method) reply") }
            result.append((path, properties.mapValues(\.unwrappingVariant)))
        }
        return result
    }
}
