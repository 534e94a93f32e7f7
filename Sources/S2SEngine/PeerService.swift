import Crypto
import Logging
import S2SPeer
import S2SProtocol
import ServiceLifecycle

/// Receives: accepts peer connections on every listener (sockets from `s2sd.socket` and
/// `--listen` addresses) and runs a `ReceiveSession` for each, until the daemon shuts down.
/// Sessions cut off by the shutdown keep their partial data, so their senders can resume.
struct PeerService: Service {
    let servers: [PeerServer]
    let context: ReceiveContext

    func run() async throws {
        guard !servers.isEmpty else {
            try? await gracefulShutdown()
            return
        }
        let context = self.context
        try? await cancelWhenGracefulShutdown {
            try await withThrowingDiscardingTaskGroup { group in
                for server in servers {
                    group.addTask {
                        try await server.run(
                            lookup: { selector in
                                await context.endpoints.endpoint(matching: selector, now: Clock.nowMicroseconds).flatMap { endpoint in
                                    (try? Curve25519.KeyAgreement.PrivateKey(rawRepresentation: endpoint.privateKey)).map(UncheckedPrivateKey.init)
                                }
                            },
                            onError: { error in
                                context.logger.debug("peer connection failed", metadata: ["error": "\(error)"])
                            },
                            handler: { channel in
                                let key = Array(channel.endpointKey.rawRepresentation)
                                guard let endpoint = await context.endpoints.endpoint(publicKey: key) else { return }
                                await ReceiveSession(channel: channel, endpoint: endpoint, context: context).run()
                            })
                    }
                }
            }
        }
    }

    /// Whether any peer connection is open (the daemon is not idle then).
    var hasConnections: Bool {
        servers.contains { $0.statistics.activeConnections > 0 }
    }
}

/// Runs the attempts of outgoing transfers, and publishes progress four times a second.
///
/// The `SendQueue` hands each attempt over through ``submit(_:)``; they run as children of this
/// service's task group, so none outlives the daemon.
final class TransferService: Service, Sendable {
    let transfers: TransferRegistry
    private let jobs: AsyncStream<@Sendable () async -> Void>
    private let continuation: AsyncStream<@Sendable () async -> Void>.Continuation

    init(transfers: TransferRegistry) {
        self.transfers = transfers
        (jobs, continuation) = AsyncStream.makeStream()
    }

    /// Starts `job` as a child task of the service.
    func submit(_ job: @escaping @Sendable () async -> Void) {
        continuation.yield(job)
    }

    func run() async throws {
        let transfers = self.transfers
        let jobs = self.jobs
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                group.addTask {
                    while !Task.isCancelled {
                        let next = await transfers.tick()
                        await transfers.activity.wait(upTo: next)
                    }
                }
                for await job in jobs {
                    group.addTask { await job() }
                }
            }
        }
        continuation.finish()
    }
}
