import S2SBus

/// Reads an object's properties as the daemon sent them, with a clear failure for a missing or
/// mistyped one (a daemon of another version), shared by every `...Info` type.
struct PropertyReader {
    let properties: [String: DBusValue]
    /// "an endpoint", "a transfer": for the message.
    let object: String

    func required<T>(_ name: String, _ extract: (DBusValue) -> T?) throws -> T {
        guard let value = properties[name].flatMap({ extract($0.unwrappingVariant) }) else {
            throw CommandFailure(message: "the daemon sent \(object) without a valid \(name)")
        }
        return value
    }
}

extension DaemonClient {
    /// The `(object path, properties)` pairs of a Manager method returning `a(oa{sv})`
    /// (ListEndpoints, ListTransfers).
    func objects(_ method: String) async throws -> [(ObjectPath, [String: DBusValue])] {
        let reply = try await manager(method)
        guard let entries = reply.first?.arrayValue else { throw CommandFailure(message: "the daemon sent a malformed reply") }
        return try entries.map { entry in
            guard let fields = entry.structureValue, fields.count == 2, let path = fields[0].objectPathValue,
                let properties = fields[1].stringKeyedValue
            else { throw CommandFailure(message: "the daemon sent a malformed \(method) reply") }
            return (path, properties.mapValues(\.unwrappingVariant))
        }
    }
}
