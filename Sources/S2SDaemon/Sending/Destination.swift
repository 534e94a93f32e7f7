import S2SCore

/// Where a send goes: `ID@HOST:PORT` (the direct route) or a plain `ID` (the relay route, which
/// arrives with its own issue).
struct Destination: Sendable, Equatable, CustomStringConvertible {
    let id: EndpointID
    let host: String
    let port: Int

    /// Parses `ID@HOST[:PORT]`; HOST may be a name, an IPv4 address or `[IPv6]`; the port defaults
    /// to 7730, the one `s2sd.socket` listens on.
    init(parsing text: String) throws(DaemonError) {
        guard let at = text.firstIndex(of: "@") else {
            _ = try Self.parseID(text)
            throw .invalidArgument(
                "\"\(text)\" has no address: sending by the ID alone needs a relay, which this daemon does not have; use ID@HOST:PORT")
        }
        id = try Self.parseID(String(text[..<at]))
        let address = text[text.index(after: at)...]
        var hostPart = Substring(address)
        var portPart: Substring?
        if address.hasPrefix("[") {
            guard let close = address.firstIndex(of: "]") else { throw .invalidArgument("\"\(address)\": unterminated [IPv6 address]") }
            hostPart = address[address.index(after: address.startIndex)..<close]
            let rest = address[address.index(after: close)...]
            if !rest.isEmpty {
                guard rest.hasPrefix(":") else { throw .invalidArgument("\"\(address)\": expected :PORT after ]") }
                portPart = rest.dropFirst()
            }
        } else if let colon = address.lastIndex(of: ":") {
            hostPart = address[..<colon]
            portPart = address[address.index(after: colon)...]
        }
        guard !hostPart.isEmpty, hostPart.allSatisfy({ $0.isLetter || $0.isNumber || ".-:_".contains($0) }) else {
            throw .invalidArgument("\"\(address)\" is not HOST:PORT")
        }
        host = String(hostPart)
        if let portPart {
            guard let port = Int(portPart), (1...65535).contains(port) else {
                throw .invalidArgument("\"\(portPart)\" is not a port number (1-65535)")
            }
            self.port = port
        } else {
            port = Configuration.defaultPeerPort
        }
    }

    private static func parseID(_ text: String) throws(DaemonError) -> EndpointID {
        do {
            return try EndpointID(parsing: text)
        } catch {
            throw .invalidArgument("\(error)")
        }
    }

    var description: String {
        host.contains(":") ? "\(id.text)@[\(host)]:\(port)" : "\(id.text)@\(host):\(port)"
    }
}
