package import S2SProtocol

/// The options of `Send`, checked before anything is read.
///
/// Stored with the queued send as JSON (`Codable`): every field decodes with its default when it
/// is missing, so a field added later carries over queues written before it existed, and a field
/// a newer daemon wrote is ignored by an older one.
package struct SendOptions: Sendable, Equatable, Codable {
    package var digest: DigestAlgorithm = .xxh3_128
    package var followSymlinks = false
    /// Bytes per second for this transfer alone (0: only the daemon's limit applies).
    package var rateLimit: UInt64 = 0
    /// Move mode: each source file is removed once the receiver confirmed it whole, unless it changed.
    package var removeSource = false
    /// The queue's order: higher first, first come first served within a priority.
    package var priority: Int32 = 0
    /// How long network errors are retried, counted from the send's creation, in seconds; nil:
    /// the daemon's `RetryFor=`. 0: one attempt only.
    package var retryFor: UInt64?
    /// The most attempts; nil or 0: no limit but the deadline.
    package var maxAttempts: UInt32?
    /// TCP connections for this transfer (1 to ``StreamCount/most``); nil: the daemon's `Streams=`.
    package var streams: Int?
    /// On the relay route, move to a direct path if the endpoint allows it (revealing this host's
    /// addresses to the receiver); nil: the daemon's `AllowDirect=`.
    package var allowDirect: Bool?
    /// The punched route (`s2sctl send --punch`); nil: the destination's own route.
    package var punch: PunchRoute?
    /// `Send`'s punch options as called; ``Engine/send(owner:sources:destination:options:)``
    /// turns them into ``punch``. Never stored.
    package var punchRequest: PunchRequest?

    /// The range of `Priority`.
    package static let priorities: ClosedRange<Int32> = -100...100
    /// The longest `RetryFor`: a year.
    package static let longestRetry: UInt64 = 366 * 86_400

    package init() {}

    // MARK: JSON

    private enum CodingKeys: String, CodingKey {
        case digest, followSymlinks, priority, retryFor, maxAttempts, rateLimit, removeSource, streams, punch, allowDirect
    }

    package init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        if let raw = try container.decodeIfPresent(UInt8.self, forKey: .digest) {
            guard let algorithm = DigestAlgorithm(rawValue: raw) else {
                throw DecodingError.dataCorruptedError(forKey: .digest, in: container, debugDescription: "unknown digest \(raw)")
            }
            digest = algorithm
        }
        followSymlinks = try container.decodeIfPresent(Bool.self, forKey: .followSymlinks) ?? false
        priority = try container.decodeIfPresent(Int32.self, forKey: .priority) ?? 0
        retryFor = try container.decodeIfPresent(UInt64.self, forKey: .retryFor)
        maxAttempts = try container.decodeIfPresent(UInt32.self, forKey: .maxAttempts)
        rateLimit = try container.decodeIfPresent(UInt64.self, forKey: .rateLimit) ?? 0
        removeSource = try container.decodeIfPresent(Bool.self, forKey: .removeSource) ?? false
        streams = try container.decodeIfPresent(Int.self, forKey: .streams).map { min(max($0, 1), StreamCount.most) }
        punch = try container.decodeIfPresent(PunchRoute.self, forKey: .punch)
        allowDirect = try container.decodeIfPresent(Bool.self, forKey: .allowDirect)
    }

    package func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(digest.rawValue, forKey: .digest)
        try container.encode(followSymlinks, forKey: .followSymlinks)
        try container.encode(priority, forKey: .priority)
        try container.encodeIfPresent(retryFor, forKey: .retryFor)
        try container.encodeIfPresent(maxAttempts, forKey: .maxAttempts)
        try container.encode(rateLimit, forKey: .rateLimit)
        try container.encode(removeSource, forKey: .removeSource)
        try container.encodeIfPresent(streams, forKey: .streams)
        try container.encodeIfPresent(punch, forKey: .punch)
        try container.encodeIfPresent(allowDirect, forKey: .allowDirect)
    }
}
