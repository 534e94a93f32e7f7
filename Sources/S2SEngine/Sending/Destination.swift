import S2SCore

/// Where a send goes: `ID@HOST:PORT` (the direct route) or a plain `ID` (the relay route).
struct Destination: Sendable, Equatable, CustomStringConvertible {
    /// How the sender reaches the receiver.
    enum Route: Sendable, Equatable {
        /// Straight to an address the receiver published.
        case direct(host: String, port: Int)
        /// Through the configured transit relays, chosen by the endpoint's relay token; the sender
        /// learns no address of the receiver.
        case relay
    }

    let id: EndpointID
    let route: Route

    /// Parses `ID@HOST[:PORT]`; HOST may be a name, an IPv4 address or `[IPv6]`; the port defaults
    /// to 7730, the one `s2sd.socket` listens on. A plain `ID` is the relay route, which needs
    /// `hasRelays` (the daemon has relays configured).
    init(parsing text: String, hasRelays: Bool) throws(EngineError) {
        guard let at = text.firstIndex(of: "@") else {
            id = try Self.parseID(text)
            guard hasRelays else {
                throw .invalidArgument(
                    "\"\(text)\" has no address: sending by the ID alone needs a relay, which this daemon does not have (Relay= or --relay); use ID@HOST:PORT")
            }
            route = .relay
            return
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
        var port = Configuration.defaultPeerPort
        if let portPart {
            guard let number = Int(portPart), (1...65535).contains(number) else {
                throw .invalidArgument("\"\(portPart)\" is not a port number (1-65535)")
            }
            port = number
        }
        route = .direct(host: String(hostPart), port: port)
    }

    private static func parseID(_ text: String) throws(EngineError) -> EndpointID {
        do {
            return try EndpointID(parsing: text)
        } catch {
            throw .invalidArgument("\(error)")
        }
    }

    /// `ID@HOST:PORT`, or the plain ID on the relay route (which is also what identifies the
    /// transfer for a resume, whichever relay carries it).
    var description: String {
        switch route {
        case .relay: id.text
        case .direct(let host, let port):
            host.contains(":") ? "\(id.text)@[\(host)]:\(port)" : "\(id.text)@\(host):\(port)"
        }
    }

    /// For the log: the address on the direct route, "relay" on the relay route.
    var routeDescription: String {
        switch route {
        case .relay: "relay"
        case .direct(let host, let port): host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        }
    }
}
