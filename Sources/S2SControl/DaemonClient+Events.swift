import S2SBus
import S2SClient
import S2SCore

extension DaemonClient {
    /// Subscribes to the daemon's signals about the caller's objects and returns them as events.
    /// Call it before starting what the events are about, so that none is missed.
    func events() async throws -> AsyncStream<DaemonEvent> {
        let signals = await connection.signals()
        do {
            try await connection.addMatch(DaemonEvent.ownerChangedMatchRule)
        } catch {
            throw CommandFailure(message: "cannot watch the daemon on the bus: \(error)")
        }
        _ = try await manager("Subscribe")
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
}
