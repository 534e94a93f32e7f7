import Logging
import ServiceLifecycle

/// Keeps the state backups (`StateDatabase.backUp`) current: after endpoints (and so keys) are
/// created or deleted, a new backup follows, at most one every ``minimumInterval`` so that a
/// burst of changes costs one copy, and a last one at shutdown if anything changed since.
struct StateBackupService: Service {
    let store: EndpointStore
    let registry: EndpointRegistry
    let directory: String
    let logger: Logger

    static let minimumInterval: Duration = .seconds(60)

    func run() async throws {
        // The backup made at start holds what the registry has now.
        let start = await registry.keysVersion
        let saved = await cancelWhenGracefulShutdown { () async -> UInt64 in
            var saved = start
            while !Task.isCancelled {
                await registry.keysChanged.wait(upTo: nil)
                guard !Task.isCancelled else { break }
                saved = await backUp(ifChangedSince: saved)
                try? await Task.sleep(for: Self.minimumInterval)
            }
            return saved
        }
        _ = await backUp(ifChangedSince: saved)
    }

    /// Backs up if the keys changed since `version`; returns the version the backups now hold.
    private func backUp(ifChangedSince version: UInt64) async -> UInt64 {
        let now = await registry.keysVersion
        guard now != version else { return version }
        StateDatabase.backUp(store, directory: directory, logger: logger)
        return now
    }
}
