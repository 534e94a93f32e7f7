import Logging
import NIOCore
package import S2SPeer
import S2SProtocol
import Synchronization

/// Keeps one connection waiting at the relay for one endpoint (docs/protocol.md, "Relay route"):
/// connects with the endpoint's relay token and the receiver side, waits (no timer on this side;
/// TCP keepalive notices a vanished relay) until the relay pairs it with a sender, hands the paired
/// connection to `onPaired`, and connects again at once. When the relay is unreachable or drops the
/// waiting connection, it reconnects with backoff (1 s doubling to 60 s, with jitter).
///
/// At most ``maxHandshakes`` of the endpoint's paired connections may be in the preamble or
/// handshake at once: beyond that the next waiting connection is opened only when one of them is
/// done, so whoever holds the token (the relay itself) cannot pile up idle sessions.
///
/// ``run()`` returns when ``stop()`` is called (the endpoint was deleted or expired) or its task is
/// cancelled; the waiting connection is closed by then.
package final class RelayWaiter: Sendable {
    /// What the front-ends show of the endpoint's relay.
    package struct Status: Sendable, Equatable {
        /// The relay chosen for the endpoint's token.
        package var relay: RelayAddress
        /// Whether a connection is waiting at the relay now.
        package var connected: Bool
    }

    let endpointNumber: Int64
    let token: RelayToken
    let relay: RelayAddress
    private let limits: ProtocolLimits
    private let logger: Logger
    /// Takes a paired connection and the function to call once its handshake is over (either way).
    typealias PairedHandler = @Sendable (NIOAsyncChannel<ByteBuffer, ByteBuffer>, _ handshakeDone: @escaping @Sendable () -> Void) -> Void

    private let onPaired: PairedHandler
    private let handshaking = Mutex(0)
    private let stopped: AsyncStream<Void>
    private let stopper: AsyncStream<Void>.Continuation
    private let state: Mutex<Status>
    private let board: RelayStatusBoard

    static let initialBackoff: Duration = .seconds(1)
    static let maximumBackoff: Duration = .seconds(60)
    /// Paired connections of one endpoint in the handshake at once.
    static let maxHandshakes = 4

    init(
        endpointNumber: Int64, token: RelayToken, relay: RelayAddress, limits: ProtocolLimits, board: RelayStatusBoard,
        logger: Logger, onPaired: @escaping PairedHandler
    ) {
        self.endpointNumber = endpointNumber
        self.token = token
        self.relay = relay
        self.limits = limits
        var logger = logger
        logger[metadataKey: "relay"] = "\(relay)"
        self.logger = logger
        self.onPaired = onPaired
        (stopped, stopper) = AsyncStream.makeStream()
        state = Mutex(Status(relay: relay, connected: false))
        self.board = board
        board.set(endpointNumber, Status(relay: relay, connected: false))
    }

    private func setConnected(_ connected: Bool) {
        let status = state.withLock { state in
            state.connected = connected
            return state
        }
        board.set(endpointNumber, status)
    }

    /// The relay and whether a connection is waiting there.
    var status: Status { state.withLock { $0 } }

    /// Ends ``run()``: closes the waiting connection and stops reconnecting.
    func stop() {
        stopper.finish()
    }

    func run() async {
        let stopped = self.stopped
        await withDiscardingTaskGroup { group in
            group.addTask {
                await self.loop()
            }
            // Costs no wake-up: returns only when stop() finishes the stream (or on cancellation).
            for await _ in stopped {}
            group.cancelAll()
        }
        setConnected(false)
        board.set(endpointNumber, nil)
    }

    private func loop() async {
        var backoff = RelayBackoff(initial: Self.initialBackoff, maximum: Self.maximumBackoff)
        while !Task.isCancelled {
            // Only when saturated: a short poll until a handshake slot is free.
            while handshaking.withLock({ $0 }) >= Self.maxHandshakes, !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(50))
            }
            do {
                let connection = try await RelayConnector.connect(
                    to: relay, token: token, side: .receiver, limits: limits, pairingTimeout: nil,
                    onWaiting: { self.setConnected(true) })
                setConnected(false)
                backoff.reset()
                logger.debug("paired at the relay")
                handshaking.withLock { $0 += 1 }
                let released = Mutex(false)
                onPaired(connection) {
                    guard released.withLock({ done in defer { done = true }; return !done }) else { return }
                    self.handshaking.withLock { $0 -= 1 }
                }
            } catch {
                setConnected(false)
                if Task.isCancelled { break }
                let delay = backoff.next()
                logger.info(
                    "relay connection lost; reconnecting",
                    metadata: ["error": "\(error)", "delay_ms": "\(Int(delay / .milliseconds(1)))"])
                try? await Task.sleep(for: delay)
            }
        }
    }
}
