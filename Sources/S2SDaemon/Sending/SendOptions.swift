import S2SBus
import S2SCore
import S2SProtocol

/// The options of `Send`, checked before anything is read.
struct SendOptions: Sendable, Equatable {
    var digest: DigestAlgorithm = .xxh3_128
    var followSymlinks = false
    /// Bytes per second for this transfer alone (0: only the daemon's limit applies).
    var rateLimit: UInt64 = 0
    /// Move mode: each source file is removed once the receiver confirmed it whole, unless it changed.
    var removeSource = false

    init(parsing options: [String: DBusValue]) throws(DaemonError) {
        for (key, value) in options {
            switch key {
            case DaemonAPI.SendOption.checksum:
                guard let name = value.unwrappingVariant.stringValue else {
                    throw .invalidArgument("option Checksum must be a string")
                }
                guard let algorithm = DigestAlgorithm.allCases.first(where: { "\($0)" == name.lowercased() }) else {
                    throw .invalidArgument("unknown checksum \"\(name)\"; use xxh3-128 or sha256")
                }
                digest = algorithm
            case DaemonAPI.SendOption.followSymlinks:
                guard let follow = value.unwrappingVariant.boolValue else {
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
            default:
                throw .invalidArgument(
                    "unknown option \"\(key)\"; known options are Checksum, FollowSymlinks, RateLimit and RemoveSource")
            }
        }
    }
}
