public import NIOCore
public import NIOPosix

/// A TCP connection through two NATs by simultaneous open: both sides `connect()` from the port
/// their ticket names to each other's addresses at the same moments, so that each NAT sees its own
/// side's SYN leave before the other's arrives and lets it in as part of that flow (RFC 5128
/// section 3.4). The moments are the wall clock's multiples of ``slot``: two hosts whose clocks
/// agree within a slot start together without talking.
///
/// Every slot each side makes a fresh attempt to every candidate, which lasts the slot (the
/// kernel resends a SYN after a second), so a side that starts first simply keeps knocking until
/// the other joins, and clocks up to a slot apart still meet.
public enum TCPPunch {
    /// The attempts' period, in seconds of the wall clock.
    public static let slot: UInt64 = 2
    /// How long a side keeps trying after it has the other's ticket: both must start within it.
    public static let patience = Duration.seconds(60)

    /// When the next attempt starts: the first multiple of ``slot`` after `wallClock`
    /// (microseconds since the epoch), as an offset from now.
    static func untilNextSlot(wallClock: UInt64) -> Duration {
        let slotMicroseconds = slot * 1_000_000
        let next = (wallClock / slotMicroseconds + 1) * slotMicroseconds
        return .microseconds(Int64(next - wallClock))
    }

    /// Sleeps until the next slot of the wall clock: where attempts aligned to it start.
    public static func sleepUntilNextSlot() async throws {
        try await Task.sleep(for: untilNextSlot(wallClock: NatDiscovery.wallClock()))
    }

    /// Connects from `localPort` to the first of `candidates` that answers, attempting at each
    /// slot until `patience` has passed; the connection is set up by `initializer`. A connection
    /// that completes after the first is closed with `discard`.
    ///
    /// With `alignedToWallClock` false the attempts start at once and follow each other every
    /// slot: for two sides that agreed on the moment another way (a relayed session's round trip).
    public static func connect<Output: Sendable>(
        from localPort: Int, to candidates: [SocketAddress], patience: Duration = patience, alignedToWallClock: Bool = true,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        initializer: @escaping @Sendable (any Channel) -> EventLoopFuture<Output>,
        discard: @escaping @Sendable (Output) async -> Void
    ) async throws -> Output {
        let deadline = ContinuousClock.now + patience
        var lastError: (any Error)?
        var first = true
        while ContinuousClock.now < deadline {
            if alignedToWallClock {
                try await sleepUntilNextSlot()
            } else if !first {
                try await Task.sleep(for: .milliseconds(50))
            }
            first = false
            let attemptEnd = min(deadline, ContinuousClock.now + .seconds(Int64(slot)))
            let outcome: Result<Output, any Error>? = await withTaskGroup(of: Result<Output, any Error>.self) { tasks in
                for candidate in candidates {
                    tasks.addTask {
                        do {
                            let timeout = attemptEnd - ContinuousClock.now
                            let connection = try await ClientBootstrap(group: group)
                                .channelOption(.socketOption(.so_reuseaddr), value: 1)
                                .channelOption(StunProbe.reusePort, value: 1)
                                .channelOption(.allowRemoteHalfClosure, value: true)
                                .channelOption(.tcpOption(.tcp_nodelay), value: 1)
                                .connectTimeout(TimeAmount(max(timeout, .milliseconds(100))))
                                .bind(to: try StunProbe.anyAddress(family: candidate.protocol, port: localPort))
                                .connect(to: candidate, channelInitializer: initializer)
                            return .success(connection)
                        } catch {
                            return .failure(error)
                        }
                    }
                }
                var winner: Output?
                var failure: (any Error)?
                for await result in tasks {
                    switch result {
                    case .success(let connection):
                        if winner == nil { winner = connection } else { await discard(connection) }
                    case .failure(let error):
                        failure = error
                    }
                }
                if let winner { return .success(winner) }
                return failure.map { .failure($0) }
            }
            switch outcome {
            case .success(let connection)?: return connection
            case .failure(let error)?: lastError = error
            case nil: break
            }
        }
        throw StunError.network("no punched connection within \(patience.components.seconds) s\(lastError.map { " (last attempt: \($0))" } ?? "")")
    }
}
