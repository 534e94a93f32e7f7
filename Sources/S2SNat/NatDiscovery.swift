public import NIOCore
public import NIOPosix
#if canImport(Glibc)
import Glibc
#endif

/// Looks at this host's NAT with the configured STUN servers (`StunServer=`): Binding requests
/// over UDP and over TCP, each from one local port to two server addresses, tell the public
/// address and whether the NAT keeps it for every destination (``NatReport``).
///
/// Anyone on the bus may ask (`s2sctl nat`), so the look is shared and kept: callers that ask
/// while one runs wait for it, and its report answers everyone for ``maxAge``. However often it
/// is asked, the daemon sends at most a few requests to each server per ``maxAge``.
public actor NatDiscovery {
    public static let maxAge = Duration.seconds(30)
    /// The most servers asked in one look; more configured ones are spares for those that fail to
    /// resolve.
    static let serversAsked = 4

    public let servers: [StunServer]
    private let group: any EventLoopGroup
    private var last: (report: NatReport, at: ContinuousClock.Instant)?
    private var waiting: [CheckedContinuation<NatReport, Never>]?

    public init(servers: [StunServer], group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) {
        self.servers = servers
        self.group = group
    }

    /// The latest report, or a new one when the latest is older than ``maxAge``.
    public func report() async -> NatReport {
        if let last, ContinuousClock.now - last.at < Self.maxAge { return last.report }
        if waiting != nil {
            return await withCheckedContinuation { waiting?.append($0) }
        }
        waiting = []
        let report = await Self.discover(servers: servers, group: group)
        last = (report, .now)
        let waiters = waiting ?? []
        waiting = nil
        for waiter in waiters { waiter.resume(returning: report) }
        return report
    }

    /// One look, uncached.
    static func discover(servers: [StunServer], group: any EventLoopGroup) async -> NatReport {
        let hostAddresses = Self.hostAddresses()
        let (addresses, errors) = await resolve(servers)
        async let udp = Self.udp(addresses, hostAddresses: hostAddresses, group: group)
        async let tcp = Self.tcp(addresses, hostAddresses: hostAddresses, group: group)
        return NatReport(udp: await udp, tcp: await tcp, hostAddresses: hostAddresses, errors: errors, timestamp: Self.wallClock())
    }

    /// The addresses of the first ``serversAsked`` servers that resolve, each once, and why the
    /// others did not.
    static func resolve(_ servers: [StunServer]) async -> (addresses: [SocketAddress], errors: [String]) {
        var addresses: [SocketAddress] = []
        var errors: [String] = servers.isEmpty ? ["no STUN server is configured (StunServer=)"] : []
        for server in servers where addresses.count < serversAsked {
            do {
                let address = try await resolve(server)
                if !addresses.contains(address) { addresses.append(address) }
            } catch {
                errors.append("\(server): \(error)")
            }
        }
        return (addresses, errors)
    }

    static func udp(_ servers: [SocketAddress], hostAddresses: [String], group: any EventLoopGroup) async -> NatReport.Transport {
        do {
            let (port, answers) = try await StunProbe.udp(servers: servers, group: group)
            return transport(port: port, answers: answers, hostAddresses: hostAddresses)
        } catch {
            return NatReport.Transport(localPort: 0, observations: [], errors: ["\(error)"], hostAddresses: hostAddresses)
        }
    }

    /// TCP: the first server from a fresh port, then from that port the next server, or the first
    /// one's OTHER-ADDRESS when only one was given.
    static func tcp(_ servers: [SocketAddress], hostAddresses: [String], group: any EventLoopGroup) async -> NatReport.Transport {
        var answers: [StunProbe.Answer] = []
        var port = 0
        var remaining = servers
        while !remaining.isEmpty, answers.filter({ (try? $0.result.get()) != nil }).count < 2 {
            let server = remaining.removeFirst()
            let (used, answer) = await StunProbe.tcp(server: server, localPort: port, group: group)
            port = used
            answers.append(answer)
            if servers.count == 1, remaining.isEmpty, answers.count == 1, let other = answer.otherAddress,
                let address = other.socketAddress
            {
                remaining.append(address)
            }
        }
        return transport(port: port, answers: answers, hostAddresses: hostAddresses)
    }

    private static func transport(port: Int, answers: [StunProbe.Answer], hostAddresses: [String]) -> NatReport.Transport {
        var observations: [NatReport.Observation] = []
        var errors: [String] = []
        for answer in answers {
            let server = "\(answer.server.ipAddress ?? "?"):\(answer.server.port ?? 0)"
            switch answer.result {
            case .success(let mapped): observations.append(.init(server: server, mapped: mapped))
            case .failure(let error): errors.append("\(server): \(error)")
            }
        }
        return NatReport.Transport(localPort: port, observations: observations, errors: errors, hostAddresses: hostAddresses)
    }

    /// A server's IPv4 address (NATs are an IPv4 matter: IPv6 hosts are reachable at their own
    /// addresses), looked up off the event loops and given up after ``StunProbe/deadline``.
    static func resolve(_ server: StunServer) async throws -> SocketAddress {
        if let literal = try? SocketAddress(ipAddress: server.host, port: server.port) {
            guard literal.protocol == .inet else { throw StunError.network("an IPv6 STUN server tells nothing about a NAT") }
            return literal
        }
        let host = server.host, port = server.port
        return try await StunProbe.withDeadline(StunProbe.deadline) {
            try await NIOThreadPool.singleton.runIfActive { () throws -> SocketAddress in
                var hints = addrinfo()
                hints.ai_family = AF_INET
                hints.ai_socktype = Int32(SOCK_DGRAM.rawValue)
                var list: UnsafeMutablePointer<addrinfo>?
                let status = getaddrinfo(host, String(port), &hints, &list)
                guard status == 0, let first = list else {
                    throw StunError.network("cannot resolve \(host): \(String(cString: gai_strerror(status)))")
                }
                defer { freeaddrinfo(list) }
                guard let address = first.pointee.ai_addr else { throw StunError.network("cannot resolve \(host): no address") }
                return address.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { SocketAddress($0.pointee, host: host) }
            }
        }
    }

    /// This host's addresses: loopback and link-local ones left out.
    static func hostAddresses() -> [String] {
        guard let devices = try? System.enumerateDevices() else { return [] }
        var addresses: [String] = []
        for device in devices {
            guard let address = device.address, let text = address.ipAddress, !addresses.contains(text) else { continue }
            let lower = text.lowercased()
            if lower.hasPrefix("127.") || lower == "::1" || lower.hasPrefix("169.254.") || lower.hasPrefix("fe80:") { continue }
            addresses.append(text)
        }
        return addresses
    }

    static func wallClock() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec / 1000)
    }
}
