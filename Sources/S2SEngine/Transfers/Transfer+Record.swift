import Foundation
import S2SCore

extension Transfer {
    /// A transfer as its stored row describes it (after a restart, or from the history).
    /// `sharedLimit`: the daemon-wide limit a send that will run again pays into.
    convenience init(record: TransferStore.Record, sharedLimit: RateLimiter? = nil) {
        let rateLimit = record.options?.rateLimit ?? 0
        self.init(
            number: record.number, direction: record.direction, owner: record.owner, route: record.route,
            destination: record.destination, sources: record.sources, names: record.names,
            digestAlgorithm: record.digestAlgorithm, initialState: record.progress.state,
            priority: record.options?.priority ?? 0, createdTimestamp: record.created,
            endpointNumber: Self.endpointNumber(stored: record.endpointPath), rateLimit: rateLimit, sharedLimit: sharedLimit,
            removeSource: record.options?.removeSource ?? false)
        let progress = record.progress
        update {
            $0 = progress
            $0.rateLimit = rateLimit
        }
    }

    /// The row of a new transfer; the send side adds its options and token key.
    func record(options: SendOptions? = nil, tokenKey: [UInt8]? = nil) -> TransferStore.Record {
        TransferStore.Record(
            number: number, direction: direction, owner: owner, route: route, endpointPath: Self.storedEndpoint(endpointNumber),
            destination: destination, sources: sources, names: names, digestAlgorithm: digestAlgorithm, options: options,
            tokenKey: tokenKey.map { Data($0) }, progress: snapshot, created: createdTimestamp)
    }

    /// How the history's `endpoint_path` column names the receiving endpoint: its object path as the
    /// first version stored it, "/" on the send side. Kept so that no migration is needed.
    static func storedEndpoint(_ number: Int64?) -> String {
        number.map { "\(DaemonAPI.endpointPathPrefix)/\($0)" } ?? "/"
    }

    /// The endpoint number in a stored `endpoint_path`; nil for "/" or anything else.
    static func endpointNumber(stored path: String) -> Int64? {
        let prefix = DaemonAPI.endpointPathPrefix + "/"
        guard path.hasPrefix(prefix) else { return nil }
        return Int64(path.dropFirst(prefix.count))
    }
}
