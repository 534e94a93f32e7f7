import FoundationEssentials
import S2SCore

extension Transfer {
    /// A transfer as its stored row describes it (after a restart, or from the history).
    /// `sharedLimit`: the daemon-wide limit a send that will run again pays into.
    convenience init(record: TransferStore.Record, sharedLimit: RateLimiter? = nil) {
        let rateLimit = record.options?.rateLimit ?? 0
        self.init(
            number: record.number, ownerNumber: record.ownerNumber, direction: record.direction, owner: record.owner, route: record.route,
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
            number: number, ownerNumber: ownerNumber, direction: direction, owner: owner, route: route,
            endpointPath: Self.storedEndpoint(endpointNumber),
            destination: destination, sources: sources, names: names, digestAlgorithm: digestAlgorithm, options: options,
            tokenKey: tokenKey.map { Data($0) }, progress: snapshot, created: createdTimestamp)
    }

    /// How the history's `endpoint_path` column names the receiving endpoint, in the form of the
    /// object paths of the first versions, `/org/s2s/Daemon1/endpoint/N`, "/" on the send side. N
    /// is the endpoint's number among its owner's (the transfer's owner): the global number of
    /// the rows written before numbers were per owner, which migration v8 made each endpoint's
    /// number for its owner. Kept so that no rows need rewriting; the bus shows the endpoint's
    /// path of today.
    static func storedEndpoint(_ number: Int64?) -> String {
        number.map { storedEndpointPrefix + String($0) } ?? "/"
    }

    static let storedEndpointPrefix = DaemonAPI.endpointPathPrefix + "/"

    /// The endpoint number in a stored `endpoint_path`; nil for "/" or anything else.
    static func endpointNumber(stored path: String) -> Int64? {
        guard path.hasPrefix(storedEndpointPrefix) else { return nil }
        return Int64(path.dropFirst(storedEndpointPrefix.count))
    }
}
