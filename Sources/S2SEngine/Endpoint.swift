package import S2SCore

/// An endpoint as the daemon keeps it: a receive-only directory, named by its own public key.
package struct Endpoint: Sendable, Equatable {
    /// The database row, which also names the bus object; never reused.
    package let number: Int64
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

    package func isVisible(in scope: Scope) -> Bool {
        scope.includes(owner: owner)
    }

    package func hasExpired(atMicroseconds now: UInt64) -> Bool {
        expires.map { now >= $0 } ?? false
    }
}
