import S2SBus
import S2SCore

/// The daemon's NAT traversal: a look at the NAT, and the two sides of a punched route.
extension DaemonClient {
    /// `DiscoverNAT`: may take a few seconds, while the daemon asks its STUN servers.
    public func discoverNAT() async throws -> NatSummary {
        try NatSummary(reply: try await manager("DiscoverNAT"))
    }

    /// `PreparePunch`: `endpointID` to receive into it, nil to send.
    public func preparePunch(endpointID: String?) async throws -> (handle: String, ticket: String, warnings: [String]) {
        let reply = try await manager("PreparePunch", [.string(endpointID ?? "")])
        guard reply.count == 3, let handle = reply[0].stringValue, let ticket = reply[1].stringValue,
            let warnings = reply[2].arrayValue?.compactMap(\.stringValue)
        else { throw MalformedReply(message: "the daemon sent a malformed PreparePunch reply") }
        return (handle, ticket, warnings)
    }

    /// `Punch`: waits while the daemon punches (up to a minute) and returns the sender's address.
    public func punch(handle: String, ticket: String) async throws -> String {
        try single(try await manager("Punch", [.string(handle), .string(ticket)], timeoutMilliseconds: Self.punchTimeout)) { $0.stringValue }
    }

    /// Longer than the daemon's patience (60 s) and its handshake.
    static let punchTimeout: Int32 = 120_000
}
