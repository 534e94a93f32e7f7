import S2SBus
import S2SCore

extension DaemonClient {
    /// The daemon's signals on this connection as events, including its coming and going on the
    /// bus. The daemon sends its own signals only after ``subscribe()``; take the stream first
    /// so that none is missed.
    public func events() async throws -> AsyncStream<DaemonEvent> {
        let signals = await connection.signals()
        try await connection.addMatch(DaemonEvent.ownerChangedMatchRule)
        return AsyncStream { continuation in
            let task = Task {
                for await signal in signals {
                    if let event = DaemonEvent(signal: signal) { continuation.yield(event) }
                }
                continuation.finish()
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// Asks for this connection's share of the daemon's signals (the caller's objects; every
    /// object, for root), until the connection closes.
    public func subscribe() async throws {
        _ = try await manager("Subscribe")
    }

    /// Whether the daemon is on the bus now.
    public func daemonIsRunning() async throws -> Bool {
        try await connection.nameHasOwner(DaemonAPI.busName)
    }
}
