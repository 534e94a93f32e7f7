/// An address a side of a relayed session can be reached at for a direct path (CANDIDATES,
/// docs/protocol.md, "Relay to direct"): the public address its NAT maps a prepared port to, or
/// one of its host's own addresses with that port.
public struct DirectCandidate: Sendable, Hashable {
    /// 4 bytes (IPv4) or 16 (IPv6), network order.
    public let ip: [UInt8]
    public let port: UInt16

    /// The most candidates one CANDIDATES record carries.
    public static let maxCount = 8

    public init?(ip: [UInt8], port: UInt16) {
        guard ip.count == 4 || ip.count == 16, port != 0 else { return nil }
        self.ip = ip
        self.port = port
    }

    var encodedLength: Int { 1 + ip.count + 2 }
}
