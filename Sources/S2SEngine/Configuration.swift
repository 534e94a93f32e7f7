public import Logging
import S2SCore
public import S2SPeer
public import S2SProtocol
public import S2SNat
#if canImport(Glibc)
import Glibc
#endif

/// Everything the daemon can be told, from its configuration file and its command line.
///
/// The file is systemd-style (`[Daemon]`, `Key=Value`, `#` comments); docs/configuration.md lists
/// every key. Command-line options override the file.
public struct Configuration: Sendable, Equatable {
    public enum BusKind: Sendable, Equatable {
        case system, user
    }

    public var bus: BusKind = .system
    public var stateDirectory: String
    /// Start with a new state database even though the state directory held one that is now
    /// missing, empty or damaged (`s2sd --new-state`); the old files are kept beside, renamed.
    public var newState = false
    /// Exit after this long with nothing to do, when started by activation; nil: never.
    public var idleTimeout: Duration? = .seconds(300)
    public var maxEndpointsPerUser: UInt64 = 1024
    public var logLevel: Logger.Level = .info
    /// Peer listeners to bind (`ADDR:PORT`), besides any socket passed by systemd. Empty and no
    /// passed socket: the daemon receives nothing over the network.
    public var listen: [String] = []
    /// Transit relays (`Relay=HOST:PORT`, `--relay`): the relay route, for receiving (a waiting
    /// connection per endpoint) and for sending by the ID alone. Empty: direct route only.
    public var relays: [RelayAddress] = []
    /// How long a sender on the relay route waits for the receiver to be waiting at the relay
    /// (`RelayWaitTimeout=`), retrying while the relay drops it, before the send fails.
    public var relayWaitTimeout: Duration = SecureChannel.defaultRelayDeadline
    /// Whether sends on the relay route move to a direct path where the endpoint allows it
    /// (`AllowDirect=`; `send --allow-direct` per send): it reveals this host's addresses to the
    /// receiver.
    public var allowDirect = false
    /// STUN servers (`StunServer=`), asked only when this host's NAT is looked at (`s2sctl nat`,
    /// a punched route). At most ``maxStunServers``.
    public var stunServers: [StunServer] { configuredStunServers ?? StunServer.defaults }
    /// The `StunServer=` lines; nil: none, so the defaults.
    private var configuredStunServers: [StunServer]?
    public static let maxStunServers = 8
    /// `HOST[:PORT]` that senders can reach this daemon at, for the `ID@HOST:PORT` form.
    public var externalAddress: String?
    /// The TCP congestion control every peer connection asks for (`CongestionControl=`); nil:
    /// the system default. BBR keeps long, lossy paths full where CUBIC collapses.
    public var congestionControl: String? = PeerTransport.defaultCongestionControl
    /// TCP connections per outgoing transfer (`Streams=`); nil: automatic
    /// (``StreamCount``).
    public var streams: Int?
    /// Bytes that must stay free on an endpoint's file system after a transfer is accepted.
    public var freeSpaceReserve: UInt64 = 64 << 20
    /// Bytes per second over all outgoing transfers (`MaxUploadRate=`) and over all incoming ones
    /// (`MaxDownloadRate=`); 0: unlimited.
    public var maxUploadRate: UInt64 = 0
    public var maxDownloadRate: UInt64 = 0
    /// Incoming transfers running at once, over all endpoints, and per endpoint.
    public var maxIncomingTransfers = 64
    public var maxIncomingTransfersPerEndpoint = 8
    /// How long an interrupted incoming transfer's partial data is kept for a retry.
    public var resumeRetention: Duration = .seconds(7 * 86_400)
    /// Outgoing transfers running at once, in total and per destination endpoint (docs/queue.md).
    public var maxActiveSends = 4
    public var maxActiveSendsPerDestination = 2
    /// One user's share of the send slots; one fewer than `maxActiveSends`'s default, so that
    /// another user always finds a slot.
    public var maxActiveSendsPerUser = 3
    /// Sends one user may have queued or running at once.
    public var maxQueuedSendsPerUser = 256
    /// How long a send retries after network errors, from its creation (`RetryFor=`).
    public var retryFor: Duration = .seconds(86_400)
    /// How long finished transfers stay in the history (`HistoryRetention=`).
    public var historyRetention: Duration = .seconds(7 * 86_400)

    /// The peer protocol's limits and timeouts (docs/protocol.md, "Bounds"), for receiving.
    public var peerLimits = ProtocolLimits.default

    /// The peer port of `s2sd.socket`, and of `--external-address HOST` without a port.
    public static let defaultPeerPort = PeerDestination.defaultPort

    public init(bus: BusKind, environment: [String: String]) {
        self.bus = bus
        self.stateDirectory = Self.defaultStateDirectory(bus: bus, environment: environment)
    }

    public static func defaultStateDirectory(bus: BusKind, environment: [String: String]) -> String {
        switch bus {
        case .system: return "/var/lib/s2s"
        case .user:
            if let state = environment["XDG_STATE_HOME"], state.hasPrefix("/") { return state + "/s2s" }
            return homeDirectory(environment) + "/.local/state/s2s"
        }
    }

    public static func defaultConfigFile(bus: BusKind, environment: [String: String]) -> String {
        switch bus {
        case .system: return "/etc/s2s/s2sd.conf"
        case .user:
            if let config = environment["XDG_CONFIG_HOME"], config.hasPrefix("/") { return config + "/s2s/s2sd.conf" }
            return homeDirectory(environment) + "/.config/s2s/s2sd.conf"
        }
    }

    private static func homeDirectory(_ environment: [String: String]) -> String {
        if let home = environment["HOME"], home.hasPrefix("/") { return home }
        return PasswordEntry.lookup(uid: getuid())?.home ?? "/"
    }

    // MARK: The file

    /// A configuration file that cannot be used, with the place and the reason.
    public struct FileError: Error, CustomStringConvertible, Sendable {
        public let file: String
        public let line: Int?
        public let reason: String
        public var description: String { line.map { "\(file):\($0): \(reason)" } ?? "\(file): \(reason)" }
    }

    /// Applies the settings of a configuration file's text.
    public mutating func apply(fileContents text: String, file: String) throws(FileError) {
        var section: String? = nil
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let lineNumber = index + 1
            let line = rawLine.trimmingCharacters(in: " \t\r")
            if line.isEmpty || line.hasPrefix("#") || line.hasPrefix(";") { continue }
            if line.hasPrefix("[") {
                guard line.hasSuffix("]") else { throw FileError(file: file, line: lineNumber, reason: "unterminated section header") }
                let name = String(line.dropFirst().dropLast())
                guard name == "Daemon" else { throw FileError(file: file, line: lineNumber, reason: "unknown section [\(name)]") }
                section = name
                continue
            }
            guard section != nil else { throw FileError(file: file, line: lineNumber, reason: "setting outside the [Daemon] section") }
            guard let equals = line.firstIndex(of: "=") else { throw FileError(file: file, line: lineNumber, reason: "expected Key=Value") }
            let key = line[..<equals].trimmingCharacters(in: " \t")
            let value = line[line.index(after: equals)...].trimmingCharacters(in: " \t")
            do throws(SettingError) {
                try set(key, to: value)
            } catch {
                throw FileError(file: file, line: lineNumber, reason: error.reason)
            }
        }
    }

    /// Reads and applies a configuration file. A missing file is an error only if `required`.
    public mutating func load(file: String, required: Bool) throws(FileError) {
        let fd = open(file, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT && !required { return }
            throw FileError(file: file, line: nil, reason: String(cString: strerror(errno)))
        }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { throw FileError(file: file, line: nil, reason: String(cString: strerror(errno))) }
            if count == 0 { break }
            bytes += chunk.prefix(count)
            guard bytes.count <= 1 << 20 else { throw FileError(file: file, line: nil, reason: "larger than 1 MiB") }
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw FileError(file: file, line: nil, reason: "not valid UTF-8")
        }
        try apply(fileContents: text, file: file)
    }

    public struct SettingError: Error, Sendable {
        public let reason: String
    }

    /// Sets one setting by its configuration-file key; the command line uses the same parsers.
    public mutating func set(_ key: String, to value: String) throws(SettingError) {
        switch key {
        case "StateDirectory":
            guard value.hasPrefix("/") else { throw SettingError(reason: "StateDirectory must be an absolute path") }
            stateDirectory = value
        case "IdleTimeout":
            idleTimeout = try Self.parseIdleTimeout(value)
        case "MaxEndpointsPerUser":
            guard let number = UInt64(value), number > 0 else {
                throw SettingError(reason: "MaxEndpointsPerUser must be a positive whole number, not \"\(value)\"")
            }
            maxEndpointsPerUser = number
        case "LogLevel":
            guard let level = Logger.Level(rawValue: value.lowercased()) else {
                throw SettingError(reason: "LogLevel must be one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            logLevel = level
        case "Listen":
            // An empty assignment resets the list, as systemd does for list settings.
            if value.isEmpty {
                listen = []
            } else {
                guard Self.isHostAndPort(value) else { throw SettingError(reason: "Listen must be ADDRESS:PORT, not \"\(value)\"") }
                listen.append(value)
            }
        case "Relay":
            // An empty assignment resets the list, as for Listen=.
            if value.isEmpty {
                relays = []
            } else {
                do {
                    relays.append(try RelayAddress(parsing: value))
                } catch {
                    throw SettingError(reason: "\(error)")
                }
            }
        case "RelayWaitTimeout":
            let seconds: UInt64
            do {
                seconds = try Units.parseDuration(value)
            } catch {
                throw SettingError(reason: "RelayWaitTimeout: \(error.description)")
            }
            guard seconds > 0, seconds <= 86_400 else { throw SettingError(reason: "RelayWaitTimeout must be from 1 second to 1 day") }
            relayWaitTimeout = .seconds(Int64(seconds))
        case "AllowDirect":
            switch value.lowercased() {
            case "yes", "true", "1", "on": allowDirect = true
            case "no", "false", "0", "off": allowDirect = false
            default: throw SettingError(reason: "AllowDirect must be yes or no, not \"\(value)\"")
            }
        case "StunServer":
            // An empty assignment resets the list, as for Listen=; the first server replaces the
            // defaults.
            if value.isEmpty {
                configuredStunServers = []
            } else {
                let server: StunServer
                do {
                    server = try StunServer(parsing: value)
                } catch {
                    throw SettingError(reason: "StunServer: \(error)")
                }
                var servers = configuredStunServers ?? []
                guard servers.count < Self.maxStunServers else {
                    throw SettingError(reason: "StunServer: at most \(Self.maxStunServers) servers")
                }
                if !servers.contains(server) { servers.append(server) }
                configuredStunServers = servers
            }
        case "ExternalAddress":
            externalAddress = value.isEmpty ? nil : value
        case "CongestionControl":
            let name = value.lowercased()
            guard name == "system" || PeerTransport.isValidName(name) else {
                throw SettingError(reason: "CongestionControl must be an algorithm name (bbr, cubic, …) or system, not \"\(value)\"")
            }
            congestionControl = name == "system" ? nil : name
        case "Streams":
            do {
                streams = try StreamCount.parse(value)
            } catch {
                throw SettingError(reason: "Streams: \(error.reason)")
            }
        case "FreeSpaceReserve":
            do {
                freeSpaceReserve = try Units.parseSize(value)
            } catch {
                throw SettingError(reason: "FreeSpaceReserve: \(error.description)")
            }
        case "MaxUploadRate", "MaxDownloadRate":
            let rate: UInt64
            do {
                rate = try Units.parseRate(value)
            } catch {
                throw SettingError(reason: "\(key): \(error.description)")
            }
            if key == "MaxUploadRate" { maxUploadRate = rate } else { maxDownloadRate = rate }
        case "MaxIncomingTransfers", "MaxIncomingTransfersPerEndpoint":
            guard let number = Int(value), number > 0, number <= 65_536 else {
                throw SettingError(reason: "\(key) must be a whole number from 1 to 65536, not \"\(value)\"")
            }
            if key == "MaxIncomingTransfers" { maxIncomingTransfers = number } else { maxIncomingTransfersPerEndpoint = number }
        case "ResumeRetention", "HistoryRetention", "RetryFor":
            let seconds: UInt64
            do {
                seconds = try Units.parseDuration(value)
            } catch {
                throw SettingError(reason: "\(key): \(error.description)")
            }
            let duration = Duration.seconds(Int64(clamping: seconds))
            switch key {
            case "ResumeRetention": resumeRetention = duration
            case "HistoryRetention": historyRetention = duration
            default:
                guard seconds <= SendOptions.longestRetry else { throw SettingError(reason: "RetryFor must be at most 366 days") }
                retryFor = duration
            }
        case "MaxActiveSends", "MaxActiveSendsPerDestination", "MaxActiveSendsPerUser", "MaxQueuedSendsPerUser":
            guard let number = Int(value), number > 0, number <= 65_536 else {
                throw SettingError(reason: "\(key) must be a whole number from 1 to 65536, not \"\(value)\"")
            }
            switch key {
            case "MaxActiveSends": maxActiveSends = number
            case "MaxActiveSendsPerDestination": maxActiveSendsPerDestination = number
            case "MaxActiveSendsPerUser": maxActiveSendsPerUser = number
            default: maxQueuedSendsPerUser = number
            }
        case "PeerHandshakeTimeout", "PeerOfferTimeout", "PeerIdleTimeout":
            let seconds: UInt64
            do {
                seconds = try Units.parseDuration(value)
            } catch {
                throw SettingError(reason: "\(key): \(error.description)")
            }
            guard seconds > 0, seconds <= 86_400 else { throw SettingError(reason: "\(key) must be from 1 second to 1 day") }
            let duration = Duration.seconds(Int64(seconds))
            switch key {
            case "PeerHandshakeTimeout": peerLimits.handshakeTimeout = duration
            case "PeerOfferTimeout": peerLimits.offerTimeout = duration
            default:
                peerLimits.idleTimeout = duration
                peerLimits.keepaliveInterval = min(peerLimits.keepaliveInterval, duration / 4)
            }
        case "MaxEntriesPerTransfer":
            guard let number = Int(value), number > 0, number <= Int(UInt32.max) else {
                throw SettingError(reason: "MaxEntriesPerTransfer must be a whole number from 1 to 4294967295")
            }
            peerLimits.maxEntries = number
        default:
            throw SettingError(reason: "unknown setting \"\(key)\"")
        }
    }

    /// `HOST:PORT` or `[V6]:PORT` with a port from 0 to 65535.
    static func isHostAndPort(_ value: String) -> Bool {
        guard let colon = value.lastIndex(of: ":"), let port = Int(value[value.index(after: colon)...]) else { return false }
        return (0...65535).contains(port) && colon > value.startIndex
    }

    /// "0" disables idle exit.
    public static func parseIdleTimeout(_ value: String) throws(SettingError) -> Duration? {
        do {
            let seconds = try Units.parseDuration(value)
            return seconds == 0 ? nil : .seconds(Int64(clamping: seconds))
        } catch {
            throw SettingError(reason: "IdleTimeout: \(error.description)")
        }
    }
}

extension StringProtocol {
    func trimmingCharacters(in set: String) -> String {
        var slice = Substring(self)
        while let first = slice.first, set.contains(first) { slice.removeFirst() }
        while let last = slice.last, set.contains(last) { slice.removeLast() }
        return String(slice)
    }
}
