import Logging
import S2SBus
import S2SCore
import S2SEngine
import S2SSystemd
import ServiceLifecycle
import Synchronization

/// Serves the API on the bus: takes the well-known name once calls can be answered, tells the
/// service manager it is ready, and on shutdown closes the connection (releasing the name).
/// Losing the bus otherwise is a failure: the daemon exits non-zero and systemd restarts it.
struct BusService: Service {
    let server: ObjectServer
    let manager: Manager
    let logger: Logger

    private final class ShutdownFlag: Sendable {
        let requested = Mutex(false)
    }

    func run() async throws {
        let flag = ShutdownFlag()
        let connection = server.connection
        try await withGracefulShutdownHandler {
            try await server.run(
                whenServing: {
                    try await connection.requestName(DaemonAPI.busName)
                    let endpoints = await manager.engine.endpointCount
                    logger.info("serving \(DaemonAPI.busName)", metadata: ["unique_name": "\(connection.uniqueName)", "endpoints": "\(endpoints)"])
                    try ServiceManager.ready(status: StatusLine.text(await manager.engine.summary))
                },
                peerVanished: { name in await manager.subscribers.remove(name) })
        } onGracefulShutdown: {
            flag.requested.withLock { $0 = true }
            do {
                try ServiceManager.stopping(status: "Shutting down")
            } catch {
                logger.warning("cannot notify the service manager", metadata: ["error": "\(error)"])
            }
            connection.close()
        }
        if !flag.requested.withLock({ $0 }) {
            throw BusError.disconnected("the bus closed the connection")
        }
    }
}
