import Logging
import S2SSystemd
import ServiceLifecycle

/// Pings the systemd watchdog at half the interval `WatchdogSec=` asks for; idle otherwise.
struct WatchdogService: Service {
    let logger: Logger

    func run() async throws {
        guard let interval = try ServiceManager.watchdogInterval() else {
            try? await gracefulShutdown()
            return
        }
        logger.debug("watchdog enabled", metadata: ["interval": "\(interval)"])
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try ServiceManager.watchdogPing()
                try await Task.sleep(for: interval / 2)
            }
        }
    }
}
