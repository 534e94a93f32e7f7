/// What a look at the NAT found (`s2sctl nat`, and before a punched route): the public address a
/// NAT gives this host's sockets over UDP and over TCP, whether that mapping stays the same for
/// every destination, and the host's own addresses.
public struct NatReport: Sendable, Equatable {
    /// How a NAT maps one local socket toward different destinations (RFC 4787's terms).
    public enum Mapping: String, Sendable, CaseIterable {
        /// No NAT: the servers saw the socket's own address.
        case none
        /// The same public address and port toward every destination ("cone"): both sides of a
        /// punch can predict it, so a punched route can work.
        case endpointIndependent = "endpoint-independent"
        /// A new public port for each destination ("symmetric"): the port a server saw is not the
        /// one a peer would see, so punching cannot work.
        case endpointDependent = "endpoint-dependent"
        /// Only one server address answered: one mapping cannot be compared with another.
        case unknown
        /// No server answered.
        case noReply = "no-reply"
    }

    /// What the NAT means for a punched route, from both transports.
    public enum Verdict: String, Sendable, CaseIterable {
        case none, cone, symmetric, unknown, blocked
    }

    /// One server's answer: where the request went, and the address it came from as the server saw it.
    public struct Observation: Sendable, Equatable {
        public let server: String
        public let mapped: StunAddress

        public init(server: String, mapped: StunAddress) {
            self.server = server
            self.mapped = mapped
        }
    }

    /// The requests over one transport, all from the same local port.
    public struct Transport: Sendable, Equatable {
        public let localPort: Int
        public let observations: [Observation]
        /// What went wrong with the servers that gave no mapped address, one line each.
        public let errors: [String]
        public let mapping: Mapping

        public init(localPort: Int, observations: [Observation], errors: [String], hostAddresses: [String]) {
            self.localPort = localPort
            self.observations = observations
            self.errors = errors
            self.mapping = Self.mapping(of: observations, localPort: localPort, hostAddresses: hostAddresses)
        }

        /// Compares what servers at two different IP addresses saw: a NAT that maps by
        /// destination address gives them different ports (RFC 5780 section 4.3's first test).
        static func mapping(of observations: [Observation], localPort: Int, hostAddresses: [String]) -> Mapping {
            guard let first = observations.first else { return .noReply }
            if observations.contains(where: { $0.mapped.port == localPort && hostAddresses.contains($0.mapped.host) }) { return .none }
            let serverHosts = Set(observations.map { Self.host(of: $0.server) })
            guard serverHosts.count >= 2 else { return .unknown }
            return observations.allSatisfy({ $0.mapped == first.mapped }) ? .endpointIndependent : .endpointDependent
        }

        private static func host(of address: String) -> Substring {
            address.lastIndex(of: ":").map { address[..<$0] } ?? Substring(address)
        }
    }

    public let udp: Transport
    public let tcp: Transport
    /// The host's own addresses, loopback and link-local left out; global IPv6 addresses are
    /// reachable without NAT, subject only to firewalls.
    public let hostAddresses: [String]
    /// What kept servers from being asked at all (none configured, a name that does not resolve).
    public let errors: [String]
    /// When the look was taken, in microseconds since the epoch: reports are kept for a while.
    public let timestamp: UInt64

    public init(udp: Transport, tcp: Transport, hostAddresses: [String], errors: [String] = [], timestamp: UInt64) {
        self.udp = udp
        self.tcp = tcp
        self.hostAddresses = hostAddresses
        self.errors = errors
        self.timestamp = timestamp
    }

    public var verdict: Verdict {
        let mappings = [udp.mapping, tcp.mapping]
        if mappings.contains(.none) { return .none }
        if mappings.contains(.endpointIndependent) { return .cone }
        if mappings.contains(.endpointDependent) { return .symmetric }
        if mappings.allSatisfy({ $0 == .noReply }) { return .blocked }
        return .unknown
    }
}
