import Logging
import ServiceLifecycle

/// Deletes endpoints when their lifetime ends, sleeping until the earliest expiry rather than
/// polling (a seedbox may hold hundreds of idle endpoints).
struct ExpiryService: Service {
    let registry: EndpointRegistry
    let events: EngineEventSink
    let logger: Logger
    /// The longest sleep between sweeps, a guard against clock changes.
    static let longestSleep: Duration = .seconds(3600)

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    let expired = try await registry.removeExpired(now: Clock.nowMicroseconds)
                    for endpoint in expired {
                        logger.info("endpoint expired", metadata: ["endpoint": "\(endpoint.objectNumber)", "owner": "\(endpoint.owner)"])
                    }
                    for endpoint in expired { events.emit(.endpointRemoved(endpoint)) }
                } catch {
                    logger.error("cannot delete expired endpoints", metadata: ["error": "\(error)"])
                }
                var delay = Self.longestSleep
                if let next = await registry.nextExpiry {
                    let now = Clock.nowMicroseconds
                    let wait = next > now ? Duration.microseconds(Int64(clamping: next - now)) : .zero
                    delay = min(delay, wait + .milliseconds(10))
                }
                await registry.expiryAdded.wait(upTo: delay)
            }
        }
    }
}
