/// A STUN server as configured (`StunServer=`): `HOST`, `HOST:PORT` or `[IPv6]:PORT`; the port
/// is 3478 when none is given (RFC 8489 section 9).
public struct StunServer: Sendable, Hashable, CustomStringConvertible {
    public static let defaultPort = 3478
    /// Public servers of two operators, so that the two requests that tell the NAT's mapping
    /// apart reach two different addresses. Contacted only when s2s is asked to look at the NAT.
    public static let defaults = [
        StunServer(host: "stun.cloudflare.com", port: 3478), StunServer(host: "stun.l.google.com", port: 19302),
    ]

    public let host: String
    public let port: Int

    public init(host: String, port: Int) {
        self.host = host.lowercased()
        self.port = port
    }

    public init(parsing text: String) throws(StunError) {
        var host = Substring(text)
        var port = Self.defaultPort
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw .malformed("STUN server \"\(text)\": unterminated [IPv6 address]") }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            if !rest.isEmpty {
                guard rest.hasPrefix(":"), let number = Int(rest.dropFirst()) else { throw .malformed("STUN server \"\(text)\" is not [ADDRESS]:PORT") }
                port = number
            }
        } else if let colon = text.lastIndex(of: ":") {
            guard text.firstIndex(of: ":") == colon else {
                throw .malformed("STUN server \"\(text)\": write an IPv6 address as [ADDRESS]:PORT")
            }
            guard let number = Int(text[text.index(after: colon)...]) else { throw .malformed("STUN server \"\(text)\": the port is not a number") }
            host = text[..<colon]
            port = number
        }
        guard (1...65535).contains(port) else { throw .malformed("STUN server \"\(text)\": port \(port) is out of range") }
        guard !host.isEmpty, host.count <= 253, host.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || ".-:_".contains($0)) }) else {
            throw .malformed("STUN server \"\(text)\": \"\(host)\" is not a host name or address")
        }
        self.init(host: String(host), port: port)
    }

    public var description: String {
        host.contains(":" as Character) ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}
