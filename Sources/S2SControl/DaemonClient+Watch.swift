import S2SClient

extension DaemonClient {
    /// The daemon's events for `send` and `watch`: watches the daemon, then subscribes, so that
    /// nothing after this call is missed.
    func subscribedEvents() async throws -> AsyncStream<DaemonEvent> {
        let events: AsyncStream<DaemonEvent>
        do {
            events = try await self.events()
        } catch {
            throw CommandFailure(message: "cannot watch the daemon on the bus: \(error)")
        }
        try await subscribe()
        return events
    }
}
