import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The daemon-wide limits an administrator may change while the daemon runs (`SetLimits`).
///
/// They start from the configuration; `SetLimits` changes them at once and keeps them in
/// `limits.conf` in the state directory, which the daemon reads after `s2sd.conf` when it
/// starts, so that a change outlives the daemon (which exits when idle). Deleting that file
/// returns to the configuration's values. docs/configuration.md, "Limits changed at run time".
package struct Limits: Sendable, Equatable {
    package var maxEndpointsPerUser: UInt64
    package var maxIncomingTransfers: Int
    package var maxIncomingTransfersPerEndpoint: Int
    package var freeSpaceReserve: UInt64
    /// Bytes per second over all outgoing and over all incoming transfers; 0: unlimited.
    package var maxUploadRate: UInt64
    package var maxDownloadRate: UInt64
    package var maxActiveSends: Int
    package var maxActiveSendsPerDestination: Int
    /// A user's share of the send slots: another user always finds one free (docs/queue.md).
    package var maxActiveSendsPerUser: Int
    /// Sends one user may have queued or running at once: what a user can make the daemon keep.
    package var maxQueuedSendsPerUser: Int

    /// The file in the state directory.
    package static let fileName = "limits.conf"
    /// The keys of `SetLimits`, of the Manager's properties and of `limits.conf`: configuration
    /// keys, all of type `t`.
    package static let keys = [
        "MaxEndpointsPerUser", "MaxIncomingTransfers", "MaxIncomingTransfersPerEndpoint", "FreeSpaceReserve", "MaxActiveSends",
        "MaxActiveSendsPerDestination", "MaxActiveSendsPerUser", "MaxQueuedSendsPerUser", "MaxUploadRate", "MaxDownloadRate",
    ]

    package init(_ configuration: Configuration) {
        maxEndpointsPerUser = configuration.maxEndpointsPerUser
        maxIncomingTransfers = configuration.maxIncomingTransfers
        maxIncomingTransfersPerEndpoint = configuration.maxIncomingTransfersPerEndpoint
        freeSpaceReserve = configuration.freeSpaceReserve
        maxUploadRate = configuration.maxUploadRate
        maxDownloadRate = configuration.maxDownloadRate
        maxActiveSends = configuration.maxActiveSends
        maxActiveSendsPerDestination = configuration.maxActiveSendsPerDestination
        maxActiveSendsPerUser = configuration.maxActiveSendsPerUser
        maxQueuedSendsPerUser = configuration.maxQueuedSendsPerUser
    }

    /// Applies changes by configuration key (`SetLimits`): every key known, every value in range;
    /// nothing changes unless all of them are good.
    package func applying(_ changes: [String: UInt64]) throws(EngineError) -> Limits {
        guard !changes.isEmpty else { throw .invalidArgument("no limits given; known: \(Self.keys.joined(separator: ", "))") }
        var configuration = Configuration(bus: .system, environment: [:])
        configuration.setLimits(self)
        for (key, value) in changes.sorted(by: { $0.key < $1.key }) {
            try Self.checkKnown(key)
            // The configuration file's parsers and ranges, so that both ways agree.
            do throws(Configuration.SettingError) {
                try configuration.set(key, to: String(value))
            } catch {
                throw .invalidArgument(error.reason)
            }
        }
        return Limits(configuration)
    }

    /// Throws unless `key` is one of ``keys``: the one check of a limit's name, for every front-end.
    package static func checkKnown(_ key: String) throws(EngineError) {
        guard keys.contains(key) else {
            throw .invalidArgument("unknown limit \"\(key)\"; known: \(keys.joined(separator: ", "))")
        }
    }

    /// Every limit by its configuration key (``keys``): the Manager's properties, the log.
    package var values: [String: UInt64] {
        [
            "MaxEndpointsPerUser": maxEndpointsPerUser,
            "MaxIncomingTransfers": UInt64(maxIncomingTransfers),
            "MaxIncomingTransfersPerEndpoint": UInt64(maxIncomingTransfersPerEndpoint),
            "FreeSpaceReserve": freeSpaceReserve,
            "MaxUploadRate": maxUploadRate,
            "MaxDownloadRate": maxDownloadRate,
            "MaxActiveSends": UInt64(maxActiveSends),
            "MaxActiveSendsPerDestination": UInt64(maxActiveSendsPerDestination),
            "MaxActiveSendsPerUser": UInt64(maxActiveSendsPerUser),
            "MaxQueuedSendsPerUser": UInt64(maxQueuedSendsPerUser),
        ]
    }

    /// `limits.conf`, in the configuration file's syntax.
    package var fileContents: String {
        """
        # Written by s2sd when an administrator changed limits over D-Bus (SetLimits). Read after
        # /etc/s2s/s2sd.conf, so these values win over it; delete this file to go back to it.
        [Daemon]
        MaxEndpointsPerUser=\(maxEndpointsPerUser)
        MaxIncomingTransfers=\(maxIncomingTransfers)
        MaxIncomingTransfersPerEndpoint=\(maxIncomingTransfersPerEndpoint)
        FreeSpaceReserve=\(freeSpaceReserve)
        MaxUploadRate=\(maxUploadRate)
        MaxDownloadRate=\(maxDownloadRate)
        MaxActiveSends=\(maxActiveSends)
        MaxActiveSendsPerDestination=\(maxActiveSendsPerDestination)
        MaxActiveSendsPerUser=\(maxActiveSendsPerUser)
        MaxQueuedSendsPerUser=\(maxQueuedSendsPerUser)

        """
    }

    /// Replaces `DIRECTORY/limits.conf` atomically and durably: a temporary file, fsync, rename,
    /// fsync of the directory.
    package func save(inDirectory directory: String) throws(EngineError) {
        let path = directory + "/" + Self.fileName
        let temporary = path + ".new"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw Self.failure("cannot create \(temporary)") }
        var bytes = Array(fileContents.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeMutableBytes { write(fd, $0.baseAddress.map { $0 + offset }, $0.count - offset) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else {
                let error = Self.failure("cannot write \(temporary)")
                close(fd)
                unlink(temporary)
                throw error
            }
            offset += written
        }
        bytes.removeAll()
        guard fsync(fd) == 0 else {
            let error = Self.failure("cannot write \(temporary) to disk")
            close(fd)
            unlink(temporary)
            throw error
        }
        guard close(fd) == 0 else {
            let error = Self.failure("cannot close \(temporary)")
            unlink(temporary)
            throw error
        }
        guard rename(temporary, path) == 0 else {
            let error = Self.failure("cannot replace \(path)")
            unlink(temporary)
            throw error
        }
        let directoryFD = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard directoryFD >= 0 else { throw Self.failure("cannot open \(directory)") }
        defer { close(directoryFD) }
        guard fsync(directoryFD) == 0 else { throw Self.failure("cannot write \(directory) to disk") }
    }

    private static func failure(_ what: String) -> EngineError {
        .failed("\(what): \(String(cString: strerror(errno)))")
    }
}

/// The limits in force, shared by the parts of the daemon that enforce them.
package final class LiveLimits: Sendable {
    private let state: Mutex<Limits>
    /// The daemon-wide rate limits, which every transfer's own limiter pays into.
    package let bandwidth = Bandwidth()

    package init(_ limits: Limits) {
        state = Mutex(limits)
        bandwidth.apply(limits)
    }

    package var current: Limits { state.withLock { $0 } }

    /// New limits, in force at once: running transfers are paced by the new rates within a
    /// quarter of a second.
    package func replace(with limits: Limits) {
        state.withLock { $0 = limits }
        bandwidth.apply(limits)
    }
}

extension Configuration {
    /// Applies `limits.conf` from the state directory, if there is one: only the limit keys may
    /// appear in it. Called after the configuration file and the command line.
    public mutating func loadRuntimeLimits() throws(FileError) {
        let file = stateDirectory + "/" + Limits.fileName
        var overlay = self
        try overlay.load(file: file, required: false)
        // Anything other than the limits differs from what the file and command line said.
        var check = overlay
        check.setLimits(Limits(self))
        guard check == self else {
            throw FileError(file: file, line: nil, reason: "only \(Limits.keys.joined(separator: ", ")) may be set here")
        }
        self = overlay
    }
}

extension Configuration {
    /// Takes every limit from `limits`: the way back of ``Limits/init(_:)``.
    mutating func setLimits(_ limits: Limits) {
        maxEndpointsPerUser = limits.maxEndpointsPerUser
        maxIncomingTransfers = limits.maxIncomingTransfers
        maxIncomingTransfersPerEndpoint = limits.maxIncomingTransfersPerEndpoint
        freeSpaceReserve = limits.freeSpaceReserve
        maxUploadRate = limits.maxUploadRate
        maxDownloadRate = limits.maxDownloadRate
        maxActiveSends = limits.maxActiveSends
        maxActiveSendsPerDestination = limits.maxActiveSendsPerDestination
        maxActiveSendsPerUser = limits.maxActiveSendsPerUser
        maxQueuedSendsPerUser = limits.maxQueuedSendsPerUser
    }
}
