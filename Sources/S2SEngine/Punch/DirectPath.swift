import Logging
import NIOCore
import Synchronization
import S2SNat
import S2SPeer
import S2SProtocol

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

        /// The addresses for further connection `index` (1, 2, ...); a candidate whose port would
        /// pass 65535 has none.
        func stripe(_ index: Int) -> Punched {
            Punched(
                localPort: localPort + index,
                candidates: candidates.compactMap { candidate in
                    UInt16(exactly: Int(candidate.port) + index).flatMap { DirectCandidate(ip: candidate.ip, port: $0) }
                })
        }
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
    /// connections): TCP simultaneous open along `path` (``TCPPunch``), set up for the peer
    /// protocol on this side (`receiver`: it reads the preamble). Attempts start at once unless
    /// `alignedToWallClock` (tickets, whose two sides agree on nothing but the clock).
    static func connect(
        along path: Punched, receiver: Bool, limits: ProtocolLimits, patience: Duration = patience, alignedToWallClock: Bool = false
    ) async throws -> NIOAsyncChannel<ByteBuffer, ByteBuffer> {
        try await TCPPunch.connect(
            from: path.localPort, to: path.candidates.compactMap(\.socketAddress), patience: patience,
            alignedToWallClock: alignedToWallClock,
            initializer: { channel in
                channel.eventLoop.makeCompletedFuture { try PeerPipeline.configure(channel, expectPreamble: receiver, limits: limits) }
            },
            discard: { connection in try? await connection.executeThenClose { _, _ in } })
    }

    /// ``connect(along:receiver:limits:patience:alignedToWallClock:)`` within ``patience``, for
    /// a path that is worth trying but not needed: nil (and `failure` in the journal) if no hole
    /// opened.
    static func punch(
        along path: Punched, receiver: Bool, limits: ProtocolLimits, logger: Logger,
        failure: String = "no direct path; the transfer stays on the relay"
    ) async -> NIOAsyncChannel<ByteBuffer, ByteBuffer>? {
        do {
            return try await connect(along: path, receiver: receiver, limits: limits)
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
}
