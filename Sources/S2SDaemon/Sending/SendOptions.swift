import S2SBus
import S2SCore
import S2SProtocol

/// The options of `Send`, checked before anything is read.
struct SendOptions: Sendable, Equatable {
    var digest: DigestAlgorithm = .xxh3_128
    var followSymlinks = false

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
            default:
                throw .invalidArgument("unknown option \"\(key)\"; known options are Checksum and FollowSymlinks")
            }
        }
    }
}
