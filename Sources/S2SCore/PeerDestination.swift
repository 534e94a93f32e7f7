/// Where a send goes, as people type it: `ID@HOST:PORT` (the direct route) or a plain `ID` (the
/// relay route).
///
/// One parser for the daemon and its clients, so that `s2sctl send` refuses a mistyped ID or
/// address before calling the daemon, with the words the daemon would use. Whether the relay
/// route is possible (the daemon has relays) is the daemon's to decide, not the parser's.
public struct PeerDestination: Sendable, Equatable, CustomStringConvertible {
    /// How the sender reaches the receiver.
    public enum Route: Sendable, Equatable {
        /// Straight to an address the receiver published.
        case direct(host: String, port: Int)
        /// Through the configured transit relays, chosen by the endpoint's relay token; the sender
        /// learns no address of the receiver.
        case relay
    }

    /// The port `s2sd.socket` listens on, used when `ID@HOST` gives none.
    public static let defaultPort = 7730

    public let id: EndpointID
    public let route: Route

    public init(id: EndpointID, route: Route) {
        self.id = id
        self.route = route
    }

    /// Parses `ID`, `ID@HOST` or `ID@HOST:PORT`; HOST may be a name, an IPv4 address or `[IPv6]`;
    /// the port defaults to ``defaultPort``. The ID is read as ``EndpointID/init(parsing:)`` reads
    /// it (any letter case, surrounding white space ignored).
    public init(parsing text: String) throws(PeerDestinationError) {
        guard let at = text.firstIndex(of: "@") else {
            id = try Self.parseID(text)
            route = .relay
            return
        }
        id = try Self.parseID(String(text[..<at]))
        let address = String(text[text.index(after: at)...])
        var hostPart = Substring(address)
        var portPart: Substring?
        if address.hasPrefix("[") {
            guard let close = address.firstIndex(of: "]") else { throw .unterminatedIPv6(address: address) }
            hostPart = address[address.index(after: address.startIndex)..<close]
            let rest = address[address.index(after: close)...]
            if !rest.isEmpty {
                guard rest.hasPrefix(":") else { throw .expectedPort(address: address) }
                portPart = rest.dropFirst()
            }
        } else if let colon = address.lastIndex(of: ":") {
            hostPart = address[..<colon]
            portPart = address[address.index(after: colon)...]
        }
        guard !hostPart.isEmpty, hostPart.allSatisfy({ $0.isLetter || $0.isNumber || ".-:_".contains($0) }) else {
            throw .notHostAndPort(address: address)
        }
        var port = Self.defaultPort
        if let portPart {
            guard let number = Int(portPart), (1...65535).contains(number) else { throw .badPort(String(portPart)) }
            port = number
        }
        route = .direct(host: String(hostPart), port: port)
    }

    private static func parseID(_ text: String) throws(PeerDestinationError) -> EndpointID {
        do {
            return try EndpointID(parsing: text)
        } catch {
            throw .id(error)
        }
    }

    /// `ID@HOST:PORT`, or the plain ID on the relay route (which is also what identifies the
    /// transfer for a resume, whichever relay carries it).
    public var description: String {
        switch route {
        case .relay: id.text
        case .direct: "\(id.text)@\(routeDescription)"
        }
    }

    /// For logs: the address on the direct route (`HOST:PORT`, `[IPv6]:PORT`), "relay" on the
    /// relay route.
    public var routeDescription: String {
        switch route {
        case .relay: "relay"
        case .direct(let host, let port): host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        }
    }
}

/// Why a piece of text is not a destination; the description is the message for people.
public enum PeerDestinationError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The part before `@` (or the whole text) is not an endpoint ID.
    case id(EndpointIDError)
    /// `ID@[` without `]`.
    case unterminatedIPv6(address: String)
    /// Something other than `:PORT` after `]`.
    case expectedPort(address: String)
    /// An empty host, or a character no host name or address has.
    case notHostAndPort(address: String)
    /// Not a number from 1 to 65535.
    case badPort(String)

    public var description: String {
        switch self {
        case .id(let error): "\(error)"
        case .unterminatedIPv6(let address): "\"\(address)\": unterminated [IPv6 address]"
        case .expectedPort(let address): "\"\(address)\": expected :PORT after ]"
        case .notHostAndPort(let address): "\"\(address)\" is not HOST:PORT"
        case .badPort(let port): "\"\(port)\" is not a port number (1-65535)"
        }
    }
}
