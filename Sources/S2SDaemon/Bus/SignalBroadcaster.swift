import Logging
import S2SBus

/// Sends signals about an object to the subscribers allowed to hear them: each signal goes
/// unicast to every subscribed connection of the object's owner and of root, as systemd's Manager
/// does, never as a broadcast that any peer on the bus could read.
struct SignalBroadcaster: Sendable {
    let connection: BusConnection
    let subscribers: Subscribers
    let logger: Logger

    /// Builds the signal for each recipient (the destination is part of the message) and sends it.
    func send(aboutObjectOf owner: UInt32, _ makeSignal: (Caller) async throws -> Message) async {
        for subscriber in await subscribers.recipients(forOwner: owner) {
            do {
                try await connection.send(try await makeSignal(subscriber))
            } catch {
                logger.warning("cannot send a signal", metadata: ["error": "\(error)", "destination": "\(subscriber.uniqueName)"])
            }
        }
    }
}
