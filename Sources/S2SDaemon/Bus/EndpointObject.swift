import S2SBus
import S2SCore
import S2SEngine

/// One endpoint's object, as a snapshot taken when the call arrived. It has properties only
/// (`DaemonBusTable.endpoint`).
struct EndpointObject: BusObject, NumberedObject {
    /// What the properties are read from.
    struct Snapshot: Sendable {
        let endpoint: Endpoint
        /// Where the endpoint waits on the relay route; nil without relays.
        let relay: RelayWaiter.Status?
    }

    static let parent = ObjectPath(DaemonAPI.endpointPathPrefix) ?? "/"
    static let interfaceNames = [DaemonBusTable.endpoint.name]

    let snapshot: Snapshot
    var interfaces: [InterfaceDescription] { [DaemonBusTable.endpoint.description] }
    var values: [String: DBusValue] { DaemonBusTable.endpoint.values(of: snapshot) }

    func call(_ method: InterfaceDescription.Method, of interface: String, arguments: [DBusValue], caller: Caller) async throws -> [DBusValue] {
        throw BusError.remote(name: StandardErrorName.unknownMethod, message: "no method \(method.name)")
    }

    func properties(of interface: String, caller: Caller) async throws -> [String: DBusValue] {
        values
    }
}

extension Endpoint {
    var busPath: ObjectPath { EndpointObject.path(objectNumber) }
}
