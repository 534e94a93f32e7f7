/// A transport address as STUN carries it (MAPPED-ADDRESS, XOR-MAPPED-ADDRESS, OTHER-ADDRESS,
/// RESPONSE-ORIGIN; RFC 8489 sections 14.1 and 14.2): an IPv4 or IPv6 address and a port.
public struct StunAddress: Sendable, Hashable, CustomStringConvertible {
    /// 4 bytes for IPv4, 16 for IPv6, in network order.
    public let ip: [UInt8]
    public let port: Int

    public init?(ip: [UInt8], port: Int) {
        guard ip.count == 4 || ip.count == 16, (0...65535).contains(port) else { return nil }
        self.ip = ip
        self.port = port
    }

    public var isIPv6: Bool { ip.count == 16 }

    /// The address alone: `192.0.2.1`, `2001:db8::1`.
    public var host: String {
        guard isIPv6 else { return ip.map(String.init).joined(separator: ".") }
        let groups = stride(from: 0, to: 16, by: 2).map { UInt16(ip[$0]) << 8 | UInt16(ip[$0 + 1]) }
        // RFC 5952: the longest run of two or more zero groups becomes "::".
        var best = (start: -1, length: 0)
        var index = 0
        while index < groups.count {
            guard groups[index] == 0 else { index += 1; continue }
            var end = index
            while end < groups.count && groups[end] == 0 { end += 1 }
            if end - index > best.length && end - index >= 2 { best = (index, end - index) }
            index = end
        }
        let hex = groups.map { String($0, radix: 16) }
        guard best.start >= 0 else { return hex.joined(separator: ":") }
        let head = hex[..<best.start].joined(separator: ":")
        let tail = hex[(best.start + best.length)...].joined(separator: ":")
        return head + "::" + tail
    }

    /// `192.0.2.1:3478`, `[2001:db8::1]:3478`.
    public var description: String { isIPv6 ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// The family byte STUN writes before the port.
    static let ipv4Family: UInt8 = 0x01
    static let ipv6Family: UInt8 = 0x02

    /// Decodes an address attribute's value; `xor` is the transaction ID for the XOR- forms.
    init(attribute value: [UInt8], xorWith transactionID: [UInt8]?) throws(StunError) {
        guard value.count >= 4 else { throw .malformed("an address attribute of \(value.count) bytes") }
        let length: Int
        switch value[1] {
        case Self.ipv4Family: length = 4
        case Self.ipv6Family: length = 16
        default: throw .malformed("address family \(value[1])")
        }
        guard value.count == 4 + length else { throw .malformed("an address attribute of \(value.count) bytes for family \(value[1])") }
        var port = Int(value[2]) << 8 | Int(value[3])
        var ip = Array(value[4...])
        if let transactionID {
            // X-Port is XORed with the magic cookie's top half, X-Address with the cookie and then the
            // transaction ID (RFC 8489 section 14.2).
            let mask = StunMessage.magicCookieBytes + transactionID
            port ^= Int(mask[0]) << 8 | Int(mask[1])
            for index in ip.indices { ip[index] ^= mask[index] }
        }
        guard let address = StunAddress(ip: ip, port: port) else { throw .malformed("address out of range") }
        self = address
    }
}
