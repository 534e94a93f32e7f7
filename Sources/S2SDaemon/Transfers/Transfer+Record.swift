import Foundation
import S2SBus

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
            endpointPath: ObjectPath(record.endpointPath), rateLimit: rateLimit, sharedLimit: sharedLimit,
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
            number: number, direction: direction, owner: owner, route: route, endpointPath: endpointPath.rawValue,
            destination: destination, sources: sources, names: names, digestAlgorithm: digestAlgorithm, options: options,
            tokenKey: tokenKey.map { Data($0) }, progress: snapshot, created: createdTimestamp)
    }
}
