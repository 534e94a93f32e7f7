public import NIOCore
public import NIOPosix
#if canImport(Glibc)
import Glibc
#endif

/// One side's sockets for a punched route, looked at before its ticket is written: a TCP port
/// and a UDP port, the public address a NAT maps each to (STUN from that very port) and whether
/// that mapping holds for every destination, and the host's addresses (for a peer on the same
/// network).
public struct PunchPreparation: Sendable {
    public let localPort: Int
    /// What the servers saw of `localPort`, with the NAT's mapping and what went wrong.
    public let tcp: NatReport.Transport
    /// The same for the UDP port (`udp.localPort`; 0: none could be bound).
    public let udp: NatReport.Transport
    public let hostAddresses: [String]

    /// Asks `servers` over TCP and over UDP, each from a fresh port, as ``NatDiscovery`` does,
    /// and keeps the ports.
    public static func prepare(servers: [StunServer], group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async -> PunchPreparation {
        let hostAddresses = NatDiscovery.hostAddresses()
        let (addresses, errors) = await NatDiscovery.resolve(servers)
        async let udp = NatDiscovery.udp(addresses, hostAddresses: hostAddresses, group: group)
        let tcp = await NatDiscovery.tcp(addresses, hostAddresses: hostAddresses, group: group)
        // No server answered on any port: a port of our own for host candidates alone (a peer on
        // this network).
        let port = tcp.localPort != 0 ? tcp.localPort : Self.freePort()
        return PunchPreparation(
            localPort: port,
            tcp: NatReport.Transport(localPort: port, observations: tcp.observations, errors: errors + tcp.errors, hostAddresses: hostAddresses),
            udp: await udp, hostAddresses: hostAddresses)
    }

    /// Where the TCP socket can be reached, best first, each once: the NAT's public address
    /// (every server of a cone saw the same; none behind a symmetric NAT), then the host's own.
    public var candidates: [StunAddress] { Self.candidates(tcp, hostAddresses: hostAddresses) }

    /// The same for the UDP socket.
    public var udpCandidates: [StunAddress] { Self.candidates(udp, hostAddresses: hostAddresses) }

    private static func candidates(_ transport: NatReport.Transport, hostAddresses: [String]) -> [StunAddress] {
        guard transport.localPort != 0 else { return [] }
        var candidates: [StunAddress] = []
        let mapped = transport.mapping == .endpointDependent ? [] : transport.observations.map(\.mapped)
        for address in mapped + hostAddresses.compactMap({ Self.address($0, port: transport.localPort) })
        where !candidates.contains(address) {
            candidates.append(address)
        }
        return candidates
    }

    /// The ticket for these sockets: their candidates, as many as fit.
    public func ticket(role: PunchTicket.Role, now: UInt32) -> PunchTicket {
        PunchTicket(role: role, expires: now + PunchTicket.lifetime, candidates: candidates, udpCandidates: udpCandidates)
    }

    /// `host` (an IPv4 or IPv6 address) and `port` as a STUN address.
    public static func address(_ host: String, port: Int) -> StunAddress? {
        var v4 = in_addr()
        if inet_pton(AF_INET, host, &v4) == 1 {
            return withUnsafeBytes(of: &v4) { StunAddress(ip: Array($0), port: port) }
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, host, &v6) == 1 {
            return withUnsafeBytes(of: &v6) { StunAddress(ip: Array($0), port: port) }
        }
        return nil
    }

    /// A port the kernel picks for a TCP socket: bound, read, and let go (the punch binds it again
    /// with `SO_REUSEPORT`).
    static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return 0 }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
                bind(fd, pointer, length) == 0 && getsockname(fd, pointer, &length) == 0
            }
        }
        return bound ? Int(UInt16(bigEndian: address.sin_port)) : 0
    }
}

extension StunAddress {
    /// The address for connecting to it.
    public var socketAddress: SocketAddress? { try? SocketAddress(ipAddress: host, port: port) }
}
