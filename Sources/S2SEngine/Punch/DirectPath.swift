import Logging
import NIOCore
import NIOPosix
import Synchronization
import S2SNat
import S2SPeer
import S2SProtocol
#if canImport(Glibc)
import Glibc
#endif

/// Relay to direct (docs/protocol.md, "Relay to direct"): what both sides of a relayed session
/// that agreed on a direct path do the same way: prepare a port and the addresses it is reached
/// at, and punch to the other side's.
enum DirectPath {
    /// A session's punched path, as each side knows it: its own prepared port and the other
    /// side's candidates. Further connections of a striped session use the next ports on both
    /// sides (port + 1, + 2, ...): a NAT that keeps ports, as the cones that let the first
    /// connection through mostly do, maps them the same way; where it does not, a further
    /// connection fails and costs nothing but itself.
    struct Punched: Sendable {
        let localPort: Int
        let candidates: [DirectCandidate]
        /// The UDP way (punch tickets only): this side's UDP port and the other side's mapped
        /// UDP address, for SRT when TCP will not punch.
        let udp: UDPPath?

        /// A ticket's path: with a UDP way when this side has a UDP port (not 0) and the other
        /// side's ticket a UDP address.
        init(localPort: Int, candidates: [DirectCandidate], udpPort: Int, udpRemote: DirectCandidate?) {
            self.localPort = localPort
            self.candidates = candidates
            self.udp = udpPort == 0 ? nil : udpRemote.map { UDPPath(localPort: udpPort, remote: $0) }
        }

        /// A TCP path alone (relay to direct, further connections).
        init(localPort: Int, candidates: [DirectCandidate]) {
            self.init(localPort: localPort, candidates: candidates, udpPort: 0, udpRemote: nil)
        }

        /// The addresses for further connection `index` (1, 2, ...), by TCP only; a candidate
        /// whose port would pass 65535 has none.
        func stripe(_ index: Int) -> Punched {
            Punched(
                localPort: localPort + index,
                candidates: candidates.compactMap { candidate in
                    UInt16(exactly: Int(candidate.port) + index).flatMap { DirectCandidate(ip: candidate.ip, port: $0) }
                })
        }

        /// The transports this path can be punched by.
        var transports: [Transport] {
            (candidates.isEmpty ? [] : [.tcp]) + (udp == nil ? [] : [.udp])
        }
    }

    /// A punched path's UDP way: SRT in rendezvous mode (``SRTRendezvous``).
    struct UDPPath: Sendable {
        let localPort: Int
        let remote: DirectCandidate
    }

    /// How a punched connection gets through: TCP simultaneous open, or SRT over UDP when the
    /// NATs let UDP through and not TCP. An SRT connection is one connection: no further ones.
    enum Transport: String, Sendable {
        case tcp
        case udp = "udp (SRT)"
    }

    /// Further connections a punched session offers at most: each is a hole of its own.
    static let mostExtraStripes = 7

    /// How long both sides try before they stay on the relay.
    static let patience = Duration.seconds(10)
    /// The receiver's bound on the whole exchange: the sender's preparation (STUN, each request
    /// given up after 3 s) and the punch fit well within it.
    static let exchangeDeadline = Duration.seconds(30)

    /// Attempts under way in this process, at most ``mostAtOnce``: a sender that holds an
    /// allowing endpoint's ID starts one on the receiver before any offer (STUN requests, then
    /// SYNs to the addresses it names for 10 s), so their number is bounded; beyond it a side
    /// declines (an empty CANDIDATES) and the session stays on the relay.
    private static let underWay = Mutex(0)
    static let mostAtOnce = 8

    /// Runs `attempt` in one of the ``mostAtOnce`` slots, or `declined` (and nil) when all are taken.
    static func inSlot<Result>(
        _ attempt: () async throws -> Result?, otherwise declined: () async throws -> Void
    ) async rethrows -> Result? {
        guard underWay.withLock({ count in
            guard count < mostAtOnce else { return false }
            count += 1
            return true
        }) else {
            try await declined()
            return nil
        }
        defer { underWay.withLock { $0 -= 1 } }
        return try await attempt()
    }

    /// A prepared port and the candidates that name it; none behind a symmetric NAT or without
    /// any STUN answer (there is no point punching then).
    static func prepare(servers: [StunServer]) async -> (port: Int, candidates: [DirectCandidate]) {
        let preparation = await PunchPreparation.prepare(servers: servers)
        guard preparation.tcp.mapping != .endpointDependent, !preparation.tcp.observations.isEmpty else { return (0, []) }
        return (preparation.localPort, preparation.candidates.prefix(DirectCandidate.maxCount).compactMap(DirectCandidate.init))
    }

    /// The one way a punched connection is opened (punch tickets, relay to direct, further
    /// connections): by `transport` along `path`, set up for the peer protocol on this side
    /// (`receiver`: it reads the preamble). TCP attempts start at once, or at the wall clock's
    /// slots with `alignedToWallClock` (tickets, whose two sides agree on nothing but the clock),
    /// as does SRT's rendezvous, which then repeats its handshake until `patience` has passed.
    static func connect(
        _ transport: Transport, along path: Punched, receiver: Bool, limits: ProtocolLimits, patience: Duration = patience,
        alignedToWallClock: Bool = false
    ) async throws -> NIOAsyncChannel<ByteBuffer, ByteBuffer> {
        let initializer: @Sendable (any Channel) -> EventLoopFuture<NIOAsyncChannel<ByteBuffer, ByteBuffer>> = { channel in
            channel.eventLoop.makeCompletedFuture { try PeerPipeline.configure(channel, expectPreamble: receiver, limits: limits) }
        }
        switch transport {
        case .tcp:
            return try await TCPPunch.connect(
                from: path.localPort, to: path.candidates.compactMap(\.socketAddress), patience: patience,
                alignedToWallClock: alignedToWallClock, initializer: initializer,
                discard: { await discard($0) })
        case .udp:
            guard let udp = path.udp, let remote = udp.remote.socketAddress else { throw StunError.network("no UDP address to punch to") }
            if alignedToWallClock { try await TCPPunch.sleepUntilNextSlot() }
            let descriptor = try await SRTRendezvous.connect(from: udp.localPort, to: remote, patience: patience)
            do {
                return try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                    .channelOption(.allowRemoteHalfClosure, value: true)
                    .withConnectedSocket(descriptor, channelInitializer: initializer)
            } catch {
                close(descriptor)
                throw error
            }
        }
    }

    /// Closes a punched connection nobody will use: a race's late winner, or one the other side
    /// did not choose.
    static func discard(_ connection: NIOAsyncChannel<ByteBuffer, ByteBuffer>) async {
        try? await connection.executeThenClose { _, _ in }
    }

    /// Where a connection punched along `path` by `transport` reached, for the journal: an SRT
    /// connection's local end says nothing about it.
    static func peer(of connection: NIOAsyncChannel<ByteBuffer, ByteBuffer>, by transport: Transport, along path: Punched) -> String {
        switch transport {
        case .tcp: connection.channel.remoteAddress.map(NetworkErrorText.describe) ?? "?"
        case .udp: path.udp?.remote.text ?? "?"
        }
    }

    /// How long the side that chooses (the sender) lets TCP try alone before it starts SRT too:
    /// TCP is the better path (the kernel's BBR, further connections) and a SYN that reached the
    /// other NAT too early costs it a second, while SRT's handshakes repeat every 250 ms and
    /// would often win a fair race.
    static let tcpHeadStart = Duration.milliseconds(2500)

    /// The first of `path`'s transports to connect (the others stopped, a late winner closed),
    /// SRT only after TCP's ``tcpHeadStart``, or the failure of each.
    static func connect(
        along path: Punched, receiver: Bool, limits: ProtocolLimits, patience: Duration = patience, alignedToWallClock: Bool = false
    ) async throws -> (connection: NIOAsyncChannel<ByteBuffer, ByteBuffer>, transport: Transport) {
        let (winner, failures) = await withTaskGroup(of: (Transport, Result<NIOAsyncChannel<ByteBuffer, ByteBuffer>, any Error>).self) { group in
            for transport in path.transports {
                group.addTask {
                    do {
                        if transport != .tcp, path.transports.contains(.tcp) { try await Task.sleep(for: tcpHeadStart) }
                        return (transport, .success(try await connect(
                            transport, along: path, receiver: receiver, limits: limits, patience: patience,
                            alignedToWallClock: alignedToWallClock)))
                    } catch {
                        return (transport, .failure(error))
                    }
                }
            }
            var winner: (NIOAsyncChannel<ByteBuffer, ByteBuffer>, Transport)?
            var failures: [String] = []
            for await (transport, result) in group {
                switch result {
                case .success(let connection) where winner == nil:
                    winner = (connection, transport)
                    group.cancelAll()
                case .success(let connection):
                    await discard(connection)
                case .failure(let error):
                    failures.append("\(transport.rawValue): \(error)")
                }
            }
            return (winner, failures)
        }
        guard let winner else { throw StunError.network(failures.isEmpty ? "no address to punch to" : failures.joined(separator: "; ")) }
        return winner
    }

    /// A TCP ``connect(_:along:receiver:limits:patience:alignedToWallClock:)`` within ``patience``,
    /// for a path that is worth trying but not needed: nil (and `failure` in the journal) if no hole
    /// opened.
    static func punch(
        along path: Punched, receiver: Bool, limits: ProtocolLimits, logger: Logger,
        failure: String = "no direct path; the transfer stays on the relay"
    ) async -> NIOAsyncChannel<ByteBuffer, ByteBuffer>? {
        do {
            return try await connect(.tcp, along: path, receiver: receiver, limits: limits)
        } catch {
            logger.info("\(failure)", metadata: ["error": "\(error)"])
            return nil
        }
    }
}

extension DirectCandidate {
    /// A ticket's or STUN's address as a candidate; nil for port 0.
    init?(_ address: StunAddress) {
        self.init(ip: address.ip, port: UInt16(clamping: address.port))
    }

    var socketAddress: SocketAddress? { StunAddress(ip: ip, port: Int(port))?.socketAddress }

    /// `ADDRESS:PORT` or `[ADDRESS]:PORT`.
    var text: String { StunAddress(ip: ip, port: Int(port))?.description ?? "?" }
}
