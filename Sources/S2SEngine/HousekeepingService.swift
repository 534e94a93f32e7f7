import Logging
import S2SProtocol
import ServiceLifecycle

/// Forgets what is no longer worth keeping, at start-up and then periodically:
/// - finished transfers older than `HistoryRetention=` leave the history;
/// - incoming transfers abandoned for `ResumeRetention=` (no activity since) lose their resume
///   records and their partial data, and partial directories that no record names are removed
///   once they have not changed for as long.
///
/// Endpoints with an incoming transfer running are skipped in that round: the sweep never takes
/// data from under a session.
struct HousekeepingService: Service {
    let registry: EndpointRegistry
    let transfers: TransferRegistry
    let resume: ResumeStore
    let configuration: Configuration
    let logger: Logger

    /// The time between sweeps: a tenth of the shorter retention, from 1 second to 1 hour.
    var interval: Duration {
        let shorter = min(configuration.resumeRetention, configuration.historyRetention)
        return min(max(shorter / 10, .seconds(1)), .seconds(3600))
    }

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                await sweep(now: Clock.nowMicroseconds)
                try? await Task.sleep(for: interval)
            }
        }
    }

    /// One round of both sweeps.
    func sweep(now: UInt64) async {
        if let store = transfers.store {
            do {
                let purged = try store.purge(finishedBefore: now &- Self.microseconds(configuration.historyRetention))
                if purged > 0 { logger.info("old transfers left the history", metadata: ["count": "\(purged)"]) }
            } catch {
                logger.error("cannot purge the transfer history", metadata: ["error": "\(error)"])
            }
        }
        await sweepPartialData(now: now)
    }

    private func sweepPartialData(now: UInt64) async {
        let cutoff = now &- Self.microseconds(configuration.resumeRetention)
        let abandoned: [(endpoint: Int64, token: TransferToken)]
        do {
            abandoned = try resume.inactive(before: cutoff)
        } catch {
            logger.error("cannot read the resume records", metadata: ["error": "\(error)"])
            return
        }
        var byEndpoint: [Int64: [TransferToken]] = [:]
        for entry in abandoned where !resume.isRunning(endpoint: entry.endpoint, token: entry.token) {
            byEndpoint[entry.endpoint, default: []].append(entry.token)
        }
        for endpoint in await registry.endpoints(in: .everyone) {
            guard await transfers.activeIncoming(endpoint: endpoint.number) == 0 else { continue }
            let expired = byEndpoint[endpoint.number] ?? []
            let known = Set(((try? resume.tokens(endpoint: endpoint.number)) ?? []).map(\.partialAreaName))
            let expiredNames = Set(expired.map(\.partialAreaName))
            let cutoffSeconds = Int64(clamping: cutoff / 1_000_000)
            do {
                let removed = try await endpoint.withDirectoryAsOwner { endpointDirectory throws(ReceiveError) -> Int in
                    var removed = 0
                    for area in try endpointDirectory.partialAreas() {
                        let orphan = !known.contains(area.name) && area.mtime.seconds < cutoffSeconds
                        guard expiredNames.contains(area.name) || orphan else { continue }
                        try endpointDirectory.removePartialArea(area.name)
                        removed += 1
                    }
                    return removed
                }
                for token in expired {
                    try resume.forget(endpoint: endpoint.number, token: token)
                    await transfers.expirePaused(
                        endpoint: endpoint.number, token: token,
                        reason: "paused by its sender, who did not resume it within ResumeRetention=; its partial data is gone")
                }
                if removed > 0 || !expired.isEmpty {
                    logger.info(
                        "abandoned partial data removed",
                        metadata: ["endpoint": "\(endpoint.objectNumber)", "records": "\(expired.count)", "directories": "\(removed)"])
                }
            } catch {
                logger.warning(
                    "cannot remove abandoned partial data", metadata: ["endpoint": "\(endpoint.objectNumber)", "error": "\(error)"])
            }
        }
    }

    private static func microseconds(_ duration: Duration) -> UInt64 {
        UInt64(clamping: duration.components.seconds) &* 1_000_000
    }
}
