/// The names of the daemon's D-Bus API, shared by the daemon and every client in this project.
/// `Packaging/dbus/org.s2s.Daemon1.xml` is the contract; docs/dbus-api.md explains it.
public enum DaemonAPI {
    public static let busName = "org.s2s.Daemon1"
    public static let rootPath = "/org/s2s/Daemon1"
    public static let endpointPathPrefix = "/org/s2s/Daemon1/endpoint"
    public static let managerInterface = "org.s2s.Daemon1.Manager"
    public static let endpointInterface = "org.s2s.Daemon1.Endpoint"
    public static let transferPathPrefix = "/org/s2s/Daemon1/transfer"
    public static let transferInterface = "org.s2s.Daemon1.Transfer"
    /// "Unlimited" and "never", as in systemd's APIs.
    public static let unlimited = UInt64.max

    /// Keys of the options dictionary of `CreateEndpoint`.
    public enum EndpointOption {
        public static let quota = "Quota"
        public static let lifetime = "Lifetime"
        public static let maxUses = "MaxUses"
        /// Boolean: senders on the relay route that ask may move to a direct path, learning this
        /// host's addresses (default false).
        public static let allowDirect = "AllowDirect"
    }

    /// Keys of the options dictionary of `Send`.
    public enum SendOption {
        /// "xxh3-128" (default) or "sha256".
        public static let checksum = "Checksum"
        /// Boolean: send what symbolic links point to instead of skipping them.
        public static let followSymlinks = "FollowSymlinks"
        /// uint64: this transfer's limit in bytes per second (0: none).
        public static let rateLimit = "RateLimit"
        /// Boolean: move mode; remove each source file once the receiver confirmed it whole.
        public static let removeSource = "RemoveSource"
        /// Int32 from -100 to 100: the queue's order, higher first (default 0).
        public static let priority = "Priority"
        /// Uint64, microseconds: how long network errors are retried (default: `RetryFor=`).
        public static let retryFor = "RetryFor"
        /// Uint32: the most attempts; 0: no limit but RetryFor.
        public static let maxAttempts = "MaxAttempts"
        /// Uint32 from 1 to 16: TCP connections for this transfer (through a relay at most 4); 0: the
        /// daemon's `Streams=` (automatic by default).
        public static let streams = "Streams"

        /// String: the handle `PreparePunch` gave for sending; with ``punchTicket``, the send goes by
        /// the punched route (one attempt, one connection).
        public static let punchHandle = "PunchHandle"
        /// String: the receiver's punch ticket.
        public static let punchTicket = "PunchTicket"
        /// Boolean: on the relay route, move to a direct path when the endpoint allows it,
        /// revealing this host's addresses to the receiver (default: the daemon's AllowDirect=).
        public static let allowDirect = "AllowDirect"

        public static let all = [
            checksum, followSymlinks, priority, retryFor, maxAttempts, rateLimit, removeSource, streams, punchHandle, punchTicket,
            allowDirect,
        ]
    }

    /// Keys of `DiscoverNAT`'s reply (docs/dbus-api.md): for each transport (the `UDP` and `TCP`
    /// prefixes) the local port the requests went from, the NAT's mapping and what each server saw.
    public enum NatKey {
        /// String: none, cone, symmetric, unknown or blocked.
        public static let verdict = "NAT"
        /// String: none, endpoint-independent, endpoint-dependent, unknown or no-reply.
        public static let mapping = "Mapping"
        /// Uint32.
        public static let localPort = "LocalPort"
        /// a(ss): each server that answered, and the address it saw.
        public static let mapped = "Mapped"
        /// As: what went wrong, one line each (unprefixed: what kept servers from being asked).
        public static let errors = "Errors"
        /// As: this host's addresses (no loopback or link-local ones).
        public static let hostAddresses = "HostAddresses"
        /// As: the configured servers (StunServer=).
        public static let servers = "StunServers"
        /// Uint64, microseconds since the epoch: when the look was taken.
        public static let timestamp = "Timestamp"
        public static let transports = ["UDP", "TCP"]
    }
}

/// The daemon's own D-Bus error names.
public enum DaemonErrorName: String, Sendable, CaseIterable {
    case accessDenied = "org.s2s.Error.AccessDenied"
    case notFound = "org.s2s.Error.NotFound"
    case invalidPath = "org.s2s.Error.InvalidPath"
    case invalidArgument = "org.s2s.Error.InvalidArgument"
    case limitExceeded = "org.s2s.Error.LimitExceeded"
    case failed = "org.s2s.Error.Failed"
}
