import S2SBus
import S2SClient

extension DaemonClient {
    /// The `(object path, properties)` pairs of a Manager method returning `a(oa{sv})`
    /// (ListEndpoints, ListTransfers).
    func objects(_ method: String) async throws -> [(ObjectPath, [String: DBusValue])] {
        try PropertyReader.objects(in: try await manager(method), of: method)
    }
}
