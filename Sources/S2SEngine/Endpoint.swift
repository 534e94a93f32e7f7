package import S2SCore

/// An endpoint as the daemon keeps it: a receive-only directory, named by its own public key.
package struct Endpoint: Sendable, Equatable {
    /// The database row: the engine's key, never reused, never shown to users (the bus and the
    /// journal name the endpoint by ``objectNumber``).
    package let number: Int64
    /// The endpoint's number among its owner's endpoints, from 1, never reused for that owner.
    package let ownerNumber: Int64
    package let id: EndpointID
    /// The Curve25519 private key; only ever in memory and in the state directory.
    package let privateKey: [UInt8]
    package let directory: EndpointDirectory
    package let owner: UInt32
    /// Microseconds since the epoch.
    package let created: UInt64
    package let quota: UInt64?
    package let expires: UInt64?
    package var remainingUses: UInt64?
    package var bytesReceived: UInt64
    package var filesReceived: UInt64
    /// A sender on the relay route that asks for a direct path gets this endpoint's addresses
    /// (`endpoint new --allow-direct`; docs/protocol.md, "Relay to direct").
    package var allowDirect = false

    /// What names the endpoint on the bus and in the journal: its owner and ``ownerNumber``.
    package var objectNumber: ObjectNumber { ObjectNumber(owner: owner, number: ownerNumber) }

    package func isVisible(in scope: Scope) -> Bool {
        scope.includes(owner: owner)
    }

    package func hasExpired(atMicroseconds now: UInt64) -> Bool {
        expires.map { now >= $0 } ?? false
    }
}
