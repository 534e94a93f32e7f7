import S2SBus
import S2SCore
import S2SEngine
import S2SProtocol

extension SendOptions {
    /// The options dictionary of `Send`: every key known, every value of its type and in range.
    init(parsing options: [String: DBusValue]) throws(EngineError) {
        self.init()
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
            case DaemonAPI.SendOption.streams:
                guard let number = Self.integer(value), (0...Int64(StreamCount.most)).contains(number) else {
                    throw .invalidArgument("option Streams must be a whole number from 1 to \(StreamCount.most), or 0 for the daemon's Streams=")
                }
                streams = number == 0 ? nil : Int(number)
            case DaemonAPI.SendOption.allowDirect:
                guard let allow = value.boolValue else { throw .invalidArgument("option AllowDirect must be a boolean") }
                allowDirect = allow
            case DaemonAPI.SendOption.punchHandle, DaemonAPI.SendOption.punchTicket:
                guard let text = value.stringValue, !text.isEmpty, text.utf8.count <= 256 else {
                    throw .invalidArgument("option \(key) must be a string of at most 256 bytes")
                }
                let handle = key == DaemonAPI.SendOption.punchHandle ? text : punchRequest?.handle ?? ""
                let ticket = key == DaemonAPI.SendOption.punchTicket ? text : punchRequest?.ticket ?? ""
                punchRequest = PunchRequest(handle: handle, ticket: ticket)
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
}
