/// A transit relay, as configured: `HOST:PORT` or `[IPv6]:PORT` (`--relay`, `Relay=`).
///
/// The canonical text (``description``) is what rendezvous hashing hashes, so both sides must
/// write a relay the same way to choose the same one; it is the host as written (lowercased) and
/// the decimal port.
public struct RelayAddress: Sendable, Hashable, CustomStringConvertible {
    public let host: String
    public let port: Int

    public init(host: String, port: Int) {
        self.host = host.lowercased()
        self.port = port
    }

    /// Parses `HOST:PORT` or `[V6ADDR]:PORT`; the port is required (a relay has no default port).
    public init(parsing text: String) throws(RelayError) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]),
            (1...65535).contains(port)
        else {
            throw .badAddress("relay \"\(text)\" is not HOST:PORT")
        }
        var host = Substring(text[..<colon])
        if host.hasPrefix("[") {
            guard host.hasSuffix("]") else { throw .badAddress("relay \"\(text)\": unterminated [IPv6 address]") }
            host = host.dropFirst().dropLast()
        } else if host.contains(":" as Character) {
            throw .badAddress("relay \"\(text)\": write an IPv6 address as [ADDRESS]:PORT")
        }
        guard !host.isEmpty, host.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || ".-:_".contains($0)) })
        else {
            throw .badAddress("relay \"\(text)\": \"\(host)\" is not a host name or address")
        }
        self.init(host: String(host), port: port)
    }

    public var description: String {
        host.contains(":" as Character) ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}
