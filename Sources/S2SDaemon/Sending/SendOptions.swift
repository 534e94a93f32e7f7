import S2SBus
import S2SCore
import S2SProtocol

/// The options of `Send`, checked before anything is read.
///
/// Stored with the queued send as JSON (`Codable`): every field decodes with its default when it
/// is missing, so a field added later carries over queues written before it existed, and a field
/// a newer daemon wrote is ignored by an older one.
struct SendOptions: Sendable, Equatable, Codable {
    var digest: DigestAlgorithm = .xxh3_128
    var followSymlinks = false
    /// Bytes per second for this transfer alone (0: only the daemon's limit applies).
    var rateLimit: UInt64 = 0
    /// Move mode: each source file is removed once the receiver confirmed it whole, unless it changed.
    var removeSource = false
    /// The queue's order: higher first, first come first served within a priority.
    var priority: Int32 = 0
    /// How long network errors are retried, counted from the send's creation, in seconds; nil:
    /// the daemon's `RetryFor=`. 0: one attempt only.
    var retryFor: UInt64?
    /// The most attempts; nil or 0: no limit but the deadline.
    var maxAttempts: UInt32?

    /// The range of `Priority`.
    static let priorities: ClosedRange<Int32> = -100...100
    /// The longest `RetryFor`: a year.
    static let longestRetry: UInt64 = 366 * 86_400

    init() {}

    init(parsing options: [String: DBusValue]) throws(DaemonError) {
        for (key, value) in options {
            let value = value.unwrappingVariant
            switch key {
            case DaemonAPI.SendOption.checksum:
                guard let name = value.stringValue else {
                    throw .invalidArgument("option Checksum must be a string")
                }
                guard let algorithm = DigestAlgorithm.allCases.first(where: { "\($0)" == name.lowercased() }) else {
                    throw .invalidArgument("unknown checksum \"\(name)\"; use xxh3-128 or sha256")
                }
                digest = algorithm
            case DaemonAPI.SendOption.followSymlinks:
                guard let follow = value.boolValue else {
                    throw .invalidArgument("option FollowSymlinks must be a boolean")
                }
                followSymlinks = follow
            case DaemonAPI.SendOption.rateLimit:
                guard let rate = value.unwrappingVariant.uint64Value else {
                    throw .invalidArgument("option RateLimit must be a uint64 (bytes per second, 0 for none)")
                }
                rateLimit = rate
            case DaemonAPI.SendOption.removeSource:
                guard let remove = value.unwrappingVariant.boolValue else {
                    throw .invalidArgument("option RemoveSource must be a boolean")
                }
                removeSource = remove
            case DaemonAPI.SendOption.priority:
                guard let number = Self.integer(value), let priority = Int32(exactly: number), Self.priorities.contains(priority) else {
                    throw .invalidArgument(
                        "option Priority must be a whole number from \(Self.priorities.lowerBound) to \(Self.priorities.upperBound)")
                }
                self.priority = priority
            case DaemonAPI.SendOption.retryFor:
                guard let microseconds = value.uint64Value, microseconds / 1_000_000 <= Self.longestRetry else {
                    throw .invalidArgument("option RetryFor must be a uint64 (t) of microseconds, at most 366 days")
                }
                retryFor = microseconds / 1_000_000
            case DaemonAPI.SendOption.maxAttempts:
                guard let attempts = value.uint32Value else {
                    throw .invalidArgument("option MaxAttempts must be a uint32 (u); 0: no limit")
                }
                maxAttempts = attempts == 0 ? nil : attempts
            default:
                throw .invalidArgument(
                    "unknown option \"\(key)\"; known options are \(DaemonAPI.SendOption.all.joined(separator: ", "))")
            }
        }
    }

    /// Any of D-Bus's integer types, as a caller may pass a number.
    private static func integer(_ value: DBusValue) -> Int64? {
        switch value {
        case .int32(let number): Int64(number)
        case .int64(let number): number
        case .uint32(let number): Int64(number)
        case .uint64(let number): Int64(exactly: number)
        case .int16(let number): Int64(number)
        case .uint16(let number): Int64(number)
        case .byte(let number): Int64(number)
        default: nil
        }
    }

    // MARK: JSON

    private enum CodingKeys: String, CodingKey {
        case digest, followSymlinks, priority, retryFor, maxAttempts, rateLimit, removeSource
    }

    init(from decoder: any Decoder) throws {
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
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(digest.rawValue, forKey: .digest)
        try container.encode(followSymlinks, forKey: .followSymlinks)
        try container.encode(priority, forKey: .priority)
        try container.encodeIfPresent(retryFor, forKey: .retryFor)
        try container.encodeIfPresent(maxAttempts, forKey: .maxAttempts)
        try container.encode(rateLimit, forKey: .rateLimit)
        try container.encode(removeSource, forKey: .removeSource)
    }
}
