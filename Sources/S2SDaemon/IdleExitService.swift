import Logging
import S2SBus
import ServiceLifecycle

/// Ends the daemon after a stretch with nothing to do, when it was started on demand (socket or
/// bus activation): the next connection or call starts it again. Nothing to do means no method
/// call running and no subscriber waiting for signals.
struct IdleExitService: Service {
    let timeout: Duration?
    let activated: Bool
    let server: ObjectServer
    let subscribers: Subscribers
    /// Transfers or peer connections in progress.
    let isBusy: @Sendable () async -> Bool
    let logger: Logger

    func run() async throws {
        guard activated, let timeout else {
            try? await gracefulShutdown()
            return
        }
        let pollInterval = min(max(timeout / 4, .milliseconds(250)), .seconds(15))
        let becameIdle: Bool = (try? await cancelWhenGracefulShutdown {
            while true {
                try await Task.sleep(for: pollInterval)
                if let idle = server.idleDuration, idle >= timeout, await subscribers.isEmpty, await !isBusy() {
                    return true
                }
            }
        }) ?? false
        if becameIdle {
            logger.info("exiting after being idle", metadata: ["idle_timeout": "\(timeout)"])
        }
    }
}
