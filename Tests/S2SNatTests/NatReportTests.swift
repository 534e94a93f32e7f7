import NIOCore
import Testing
@testable import S2SNat

enum SocketAddressForTests {
    static func make(_ ip: String, _ port: Int) throws -> SocketAddress { try SocketAddress(ipAddress: ip, port: port) }
}

/// How what the STUN servers saw becomes a NAT's mapping and a verdict, and how servers are written.
struct NatReportTests {
    static func seen(_ server: String, _ ip: [UInt8], _ port: Int) -> NatReport.Observation {
        NatReport.Observation(server: server, mapped: StunAddress(ip: ip, port: port) ?? StunAddress(ip: [0, 0, 0, 0], port: 0)!)
    }

    static let host = ["10.0.0.2", "2001:db8::2"]

    static func transport(_ observations: [NatReport.Observation], port: Int = 40000) -> NatReport.Transport {
        NatReport.Transport(localPort: port, observations: observations, errors: [], hostAddresses: host)
    }

    @Test func theSamePublicPortTowardTwoServerAddressesIsACone() {
        let cone = Self.transport([Self.seen("198.19.0.3:3478", [198, 19, 0, 11], 40000), Self.seen("198.19.0.4:3479", [198, 19, 0, 11], 40000)])
        #expect(cone.mapping == .endpointIndependent)
        let symmetric = Self.transport([Self.seen("198.19.0.3:3478", [198, 19, 0, 11], 51000), Self.seen("198.19.0.4:3479", [198, 19, 0, 11], 62000)])
        #expect(symmetric.mapping == .endpointDependent)
        #expect(NatReport(udp: cone, tcp: symmetric, hostAddresses: Self.host, timestamp: 0).verdict == .cone)
        #expect(NatReport(udp: symmetric, tcp: symmetric, hostAddresses: Self.host, timestamp: 0).verdict == .symmetric)
    }

    @Test func oneServerAddressCannotTellAndNoneIsBlocked() {
        // Two ports of one address do not show a mapping by destination address.
        let one = Self.transport([Self.seen("198.19.0.3:3478", [198, 19, 0, 11], 40000), Self.seen("198.19.0.3:3479", [198, 19, 0, 11], 40000)])
        #expect(one.mapping == .unknown)
        let none = Self.transport([])
        #expect(none.mapping == .noReply)
        #expect(NatReport(udp: none, tcp: none, hostAddresses: Self.host, timestamp: 0).verdict == .blocked)
        #expect(NatReport(udp: one, tcp: none, hostAddresses: Self.host, timestamp: 0).verdict == .unknown)
    }

    @Test func theHostsOwnAddressAndPortMeanNoNAT() {
        let open = Self.transport([Self.seen("198.19.0.3:3478", [10, 0, 0, 2], 40000)])
        #expect(open.mapping == .none)
        #expect(NatReport(udp: open, tcp: Self.transport([]), hostAddresses: Self.host, timestamp: 0).verdict == .none)
        // The same address with another port is a NAT on the host itself.
        #expect(Self.transport([Self.seen("198.19.0.3:3478", [10, 0, 0, 2], 40001)]).mapping == .unknown)
    }

    @Test func serversAreWrittenAsHostAndOptionalPort() throws {
        #expect(try StunServer(parsing: "stun.example.net").description == "stun.example.net:3478")
        #expect(try StunServer(parsing: "STUN.Example.net:19302") == StunServer(host: "stun.example.net", port: 19302))
        #expect(try StunServer(parsing: "[2001:db8::1]:3478").host == "2001:db8::1")
        #expect(try StunServer(parsing: "[2001:db8::1]").port == 3478)
        for bad in ["", ":3478", "host:0", "host:65536", "host:x", "2001:db8::1", "[2001:db8::1", "[::1]x", "a b", "ho/st"] {
            #expect(throws: StunError.self, "\(bad)") { try StunServer(parsing: bad) }
        }
    }

    @Test func ipv6AddressesAreWrittenShort() {
        let ip: [UInt8] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]
        #expect(StunAddress(ip: ip, port: 1)?.description == "[2001:db8::1]:1")
        #expect(StunAddress(ip: [UInt8](repeating: 0, count: 16), port: 1)?.host == "::")
        #expect(StunAddress(ip: [1, 2, 3], port: 1) == nil)
        #expect(StunAddress(ip: [1, 2, 3, 4], port: 70000) == nil)
    }
}

/// One look at the NAT serves every caller for a while: nothing a caller does makes the daemon
/// ask the servers more often (no servers here, so a look is instant and offline).
struct NatDiscoveryTests {
    @Test func callersAtOnceAndJustAfterShareOneLook() async {
        let discovery = NatDiscovery(servers: [])
        let reports = await withTaskGroup(of: NatReport.self) { group in
            for _ in 0..<8 { group.addTask { await discovery.report() } }
            return await group.reduce(into: []) { $0.append($1) }
        }
        let later = await discovery.report()
        #expect(Set(reports.map(\.timestamp) + [later.timestamp]).count == 1)
        #expect(later.verdict == .blocked)
        #expect(later.errors == ["no STUN server is configured (StunServer=)"])
    }
}
