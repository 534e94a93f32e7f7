import S2SCore
import Logging
import NIOCore
import S2SPeer
import S2SProtocol
import ServiceLifecycle
import Synchronization

/// The receiver's side of the relay route: for every open endpoint, one ``RelayWaiter`` waiting at
/// the relay that rendezvous hashing of the endpoint's relay token chooses; for every connection a
/// waiter gets paired, the same receive path as a direct connection (`SecureChannel.accept` and a
/// `ReceiveSession`).
///
/// Structured: waiters and sessions are child tasks of this service's task group, so none outlives
/// the daemon. Waiters follow the endpoint set through the registry's change stream: a new
/// endpoint gets a waiter at once, a deleted or expired one loses it (its waiting connection is
/// closed). An idle endpoint costs one TCP connection and no wake-ups.
final class RelayService: Service, Sendable {
    private let relays: [RelayAddress]
    private let context: ReceiveContext
    private let events: AsyncStream<Event>
    private let continuation: AsyncStream<Event>.Continuation
    private let waiters = Mutex<[Int64: RelayWaiter]>([:])
    private let sessions = Mutex(0)
    /// Paired connections handed over but not yet taken by the service loop, so that those still
    /// queued when the service stops are closed rather than left to the end of the process.
    private let unserved = Mutex<[ObjectIdentifier: any Channel]>([:])

    private enum Event: Sendable {
        /// The endpoint set may have changed.
        case endpointsChanged
        /// A waiter was paired: run the receiver's side on the connection.
        case paired(NIOAsyncChannel<ByteBuffer, ByteBuffer>, handshakeDone: @Sendable () -> Void)
    }

    private let board: RelayStatusBoard

    init(relays: [RelayAddress], context: ReceiveContext, board: RelayStatusBoard) {
        self.board = board
        self.relays = relays
        self.context = context
        (events, continuation) = AsyncStream.makeStream()
    }

    /// Whether endpoints are waiting at relays or relayed sessions run: the daemon must not exit
    /// when idle then, or senders would find nobody.
    var isBusy: Bool {
        waiters.withLock { !$0.isEmpty } || sessions.withLock { $0 > 0 }
    }

    func run() async throws {
        guard !relays.isEmpty else {
            try? await gracefulShutdown()
            return
        }
        let changes = await context.endpoints.membershipChangeStream()
        let continuation = self.continuation
        let events = self.events
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                group.addTask {
                    for await _ in changes { continuation.yield(.endpointsChanged) }
                }
                for await event in events {
                    switch event {
                    case .endpointsChanged:
                        for waiter in await self.synchronize() {
                            group.addTask { await waiter.run() }
                        }
                    case .paired(let connection, let handshakeDone):
                        self.unserved.withLock { _ = $0.removeValue(forKey: ObjectIdentifier(connection.channel)) }
                        self.sessions.withLock { $0 += 1 }
                        group.addTask {
                            await self.context.serve(paired: connection, route: "relay", handshakeDone: handshakeDone)
                            handshakeDone()
                            self.sessions.withLock { $0 -= 1 }
                        }
                    }
                }
                group.cancelAll()
            }
        }
        continuation.finish()
        waiters.withLock { $0 = [:] }
        for channel in unserved.withLock({ unserved in defer { unserved = [:] }; return Array(unserved.values) }) {
            channel.close(promise: nil)
        }
    }

    /// Stops the waiters of endpoints that are gone and returns new ones for endpoints without.
    private func synchronize() async -> [RelayWaiter] {
        let open = await context.endpoints.openEndpoints(now: Clock.nowMicroseconds)
        let continuation = self.continuation
        let board = self.board
        let limits = context.configuration.peerLimits
        return waiters.withLock { waiters in
            let numbers = Set(open.map(\.number))
            for (number, waiter) in waiters where !numbers.contains(number) {
                waiter.stop()
                waiters[number] = nil
            }
            var started: [RelayWaiter] = []
            for endpoint in open where waiters[endpoint.number] == nil {
                let token = RelayToken(endpointPublicKey: endpoint.id.publicKey)
                guard let relay = RelayRendezvous.choose(relays, for: token) else { continue }
                var logger = context.logger
                logger[metadataKey: "endpoint"] = "\(endpoint.objectNumber)"
                let waiter = RelayWaiter(
                    endpointNumber: endpoint.number, token: token, relay: relay, limits: limits,
                    board: board, logger: logger,
                    onPaired: { connection, handshakeDone in
                        self.unserved.withLock { $0[ObjectIdentifier(connection.channel)] = connection.channel }
                        if case .terminated = continuation.yield(.paired(connection, handshakeDone: handshakeDone)) {
                            self.unserved.withLock { _ = $0.removeValue(forKey: ObjectIdentifier(connection.channel)) }
                            connection.channel.close(promise: nil)
                            handshakeDone()
                        }
                    })
                waiters[endpoint.number] = waiter
                started.append(waiter)
            }
            return started
        }
    }
}
