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

        /// The addresses for further connection `index` (1, 2, ...).
        func stripe(_ index: Int) -> Punched {
            Punched(
                localPort: localPort + index,
                candidates: candidates.compactMap { DirectCandidate(ip: $0.ip, port: UInt16(clamping: Int($0.port) + index)) })
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

    /// Runs `body` in one of the ``mostAtOnce`` slots; nil without running it when all are taken.
    static func inSlot<Result>(_ body: () async throws -> Result) async rethrows -> Result? {
        guard underWay.withLock({ count in
            guard count < mostAtOnce else { return false }
            count += 1
            return true
        }) else { return nil }
        defer { underWay.withLock { $0 -= 1 } }
        return try await body()
    }

    /// A prepared port and the candidates that name it; none behind a symmetric NAT or without
    /// any STUN answer (there is no point punching then).
    static func prepare(servers: [StunServer]) async -> (port: Int, candidates: [DirectCandidate]) {
        let preparation = await PunchPreparation.prepare(servers: servers)
        guard preparation.tcp.mapping != .endpointDependent, !preparation.tcp.observations.isEmpty else { return (0, []) }
        let ticket = preparation.ticket(role: .sender, now: 0)
        let candidates = ticket.candidates.prefix(DirectCandidate.maxCount).compactMap { DirectCandidate(ip: $0.ip, port: UInt16($0.port)) }
        return (preparation.localPort, candidates)
    }

    /// A connection from `port` to one of `candidates`, set up for the peer protocol on this
    /// side (`receiver`: reads the preamble), within ``patience``; nil if none answered.
    static func punch(
        from port: Int, to candidates: [DirectCandidate], receiver: Bool, limits: ProtocolLimits, logger: Logger,
        failure: String = "no direct path; the transfer stays on the relay"
    ) async -> NIOAsyncChannel<ByteBuffer, ByteBuffer>? {
        let addresses = candidates.compactMap { StunAddress(ip: $0.ip, port: Int($0.port))?.socketAddress }
        do {
            return try await TCPPunch.connect(
                from: port, to: addresses, patience: patience, alignedToWallClock: false,
                initializer: { channel in
                    channel.eventLoop.makeCompletedFuture { try PeerPipeline.configure(channel, expectPreamble: receiver, limits: limits) }
                },
                discard: { connection in try? await connection.executeThenClose { _, _ in } })
        } catch {
            logger.info("\(failure)", metadata: ["error": "\(error)"])
            return nil
        }
    }
}
