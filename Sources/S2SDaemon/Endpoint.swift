import S2SBus
import S2SCore

/// An endpoint as the daemon keeps it: a receive-only directory, named by its own public key.
struct Endpoint: Sendable, Equatable {
    /// The database row, which also names the bus object; never reused.
    let number: Int64
    let id: EndpointID
    /// The Curve25519 private key; only ever in memory and in the state directory.
    let privateKey: [UInt8]
    let directory: EndpointDirectory
    let owner: UInt32
    /// Microseconds since the epoch.
    let created: UInt64
    let quota: UInt64?
    let expires: UInt64?
    var remainingUses: UInt64?
    var bytesReceived: UInt64
    var filesReceived: UInt64

    var objectPath: ObjectPath {
        ObjectPath("\(DaemonAPI.endpointPathPrefix)/\(number)") ?? "/"
    }

    func isVisible(in scope: Scope) -> Bool {
        scope.includes(owner: owner)
    }

    func hasExpired(atMicroseconds now: UInt64) -> Bool {
        expires.map { now >= $0 } ?? false
    }

    /// The values of the `org.s2s.Daemon1.Endpoint` properties.
    var properties: [String: DBusValue] {
        [
            "Id": .string(id.text),
            "Directory": .string(directory.path),
            "Owner": .uint32(owner),
            "CreatedTimestamp": .uint64(created),
            "Quota": .uint64(quota ?? DaemonAPI.unlimited),
            "ExpiresTimestamp": .uint64(expires ?? DaemonAPI.unlimited),
            "RemainingUses": .uint64(remainingUses ?? DaemonAPI.unlimited),
            "BytesReceived": .uint64(bytesReceived),
            "FilesReceived": .uint64(filesReceived),
        ]
    }
}
