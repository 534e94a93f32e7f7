public import S2SBus
public import S2SCore

extension DaemonClient {
    /// Makes `directory` (absolute) an endpoint of the caller; `options` are
    /// ``DaemonAPI/EndpointOption`` keys. Returns the endpoint's object and ID.
    public func createEndpoint(directory: String, options: [String: DBusValue]) async throws -> (path: ObjectPath, id: String) {
        let reply = try await manager("CreateEndpoint", [.string(directory), .vardict(options)])
        guard reply.count == 2, let path = reply[0].objectPathValue, let id = reply[1].stringValue else {
            throw MalformedReply(message: "the daemon sent a malformed reply")
        }
        return (path, id)
    }

    /// The object of the endpoint `id`.
    public func endpoint(_ id: EndpointID) async throws -> ObjectPath {
        try single(try await manager("GetEndpoint", [.string(id.text)]), \.objectPathValue)
    }

    /// Deletes the endpoint `id`; its key is destroyed, received files stay.
    public func deleteEndpoint(_ id: EndpointID) async throws {
        _ = try await manager("DeleteEndpoint", [.string(id.text)])
    }

    /// The caller's endpoints (every endpoint, for root), with their properties
    /// (``EndpointProperty`` names).
    public func endpoints() async throws -> [(path: ObjectPath, properties: [String: DBusValue])] {
        try await objects("ListEndpoints").map { (path: $0.0, properties: $0.1) }
    }

    /// Every property of an endpoint (``EndpointProperty`` names).
    public func endpointProperties(_ path: ObjectPath) async throws -> [String: DBusValue] {
        try await properties(of: path, interface: DaemonAPI.endpointInterface)
    }

    /// The Manager's properties: version, limits, external address.
    public func managerProperties() async throws -> [String: DBusValue] {
        try await properties(of: Self.rootPath, interface: DaemonAPI.managerInterface)
    }

    /// Changes the daemon's limits (root only); keys are the Manager's limit property names.
    public func setLimits(_ limits: [String: DBusValue]) async throws {
        _ = try await manager("SetLimits", [.vardict(limits)])
    }
}
