/// Who may start a handshake: the receiver's defence against a flood of connections that never
/// finish their handshake (docs/security.md, "Handshake floods"), the way OpenSSH's `MaxStartups`
/// (random early drop) and `PerSourceMaxStartups` and nginx's per-address connection limits do it.
///
/// A connection is refused at once, in this order, when
/// 1. ``Policy/maxConcurrentHandshakes`` handshakes are unfinished (the table is full);
/// 2. its source is penalized: each of its connections that ran out of time before finishing the
///    handshake added ``Policy/penaltyPerTimeout`` to its penalty, which drains in real time; while
///    the penalty exceeds ``Policy/penaltyGrace`` and the table is under pressure (at least
///    ``Policy/earlyDropStart`` unfinished), the source is refused (OpenSSH's
///    `PerSourcePenalties`, applied only when it matters). So addresses that keep the table full
///    with silent connections are shut out within seconds, while a sender whose one handshake timed
///    out is not, nor one that shares an address with an attacker once the attack is over;
/// 3. its source (``HandshakeSource``) already has ``Policy/maxHandshakesPerSource`` unfinished
///    handshakes, so that a flood from one address or a few can hold only a few slots;
/// 4. at least ``Policy/earlyDropStart`` are unfinished, with a probability that rises linearly
///    from ``Policy/earlyDropRate`` percent there to 100 % at a full table, so that a flood from
///    many addresses leaves free slots that a legitimate sender, retrying, takes with high
///    probability.
///
/// A pure value: the caller holds it under a lock, and supplies the random numbers (tests inject
/// their own). Every admitted source must be released exactly once.
public struct HandshakeAdmission: Sendable {
    /// The numbers of the defence, with documented defaults (docs/protocol.md, "Concurrent handshakes").
    public struct Policy: Sendable, Hashable {
        /// The default for ``maxConcurrentHandshakes``.
        public static let defaultMaxConcurrentHandshakes = 64
        /// The default for ``maxHandshakesPerSource``.
        public static let defaultMaxHandshakesPerSource = 8
        /// The default for ``earlyDropStart``: half the default table.
        public static let defaultEarlyDropStart = 32
        /// The default for ``earlyDropRate``: OpenSSH's `MaxStartups 10:30:100` rate.
        public static let defaultEarlyDropRate = 30
        /// The default for ``preambleTimeout``.
        public static let defaultPreambleTimeout = Duration.seconds(3)
        /// The default for ``penaltyPerTimeout``.
        public static let defaultPenaltyPerTimeout = Duration.seconds(2)
        /// The default for ``penaltyGrace``: four timeouts in a row are forgiven.
        public static let defaultPenaltyGrace = Duration.seconds(8)
        /// The default for ``maxPenalty``.
        public static let defaultMaxPenalty = Duration.seconds(300)
        /// The most sources with a penalty remembered at once (a bound on memory).
        public static let maxPenalizedSources = 65_536

        /// The most handshakes unfinished at once, from all sources; at least 1.
        public var maxConcurrentHandshakes: Int
        /// The most unfinished handshakes of one source; 1 ... ``maxConcurrentHandshakes``.
        public var maxHandshakesPerSource: Int
        /// From this many unfinished handshakes on, new connections are dropped at random;
        /// 0 ... ``maxConcurrentHandshakes`` (equal: never at random).
        public var earlyDropStart: Int
        /// The chance of a drop, in percent, at ``earlyDropStart``; 0 ... 100.
        public var earlyDropRate: Int
        /// From accepting until the 37-byte preamble has arrived; a connection that has not sent it
        /// by then is closed without a word. Separate from, and normally shorter than,
        /// `ProtocolLimits.handshakeTimeout`, which bounds the whole handshake.
        public var preambleTimeout: Duration
        /// Added to a source's penalty for each of its connections that ran out of time (preamble or
        /// handshake timeout); 0 turns penalties off.
        public var penaltyPerTimeout: Duration
        /// A source is refused while its penalty exceeds this.
        public var penaltyGrace: Duration
        /// The largest penalty a source can accumulate.
        public var maxPenalty: Duration

        /// A policy; each number is clamped to its range.
        public init(
            maxConcurrentHandshakes: Int = defaultMaxConcurrentHandshakes,
            maxHandshakesPerSource: Int = defaultMaxHandshakesPerSource,
            earlyDropStart: Int = defaultEarlyDropStart,
            earlyDropRate: Int = defaultEarlyDropRate,
            preambleTimeout: Duration = defaultPreambleTimeout,
            penaltyPerTimeout: Duration = defaultPenaltyPerTimeout,
            penaltyGrace: Duration = defaultPenaltyGrace,
            maxPenalty: Duration = defaultMaxPenalty
        ) {
            self.maxConcurrentHandshakes = max(1, maxConcurrentHandshakes)
            self.maxHandshakesPerSource = min(max(1, maxHandshakesPerSource), self.maxConcurrentHandshakes)
            self.earlyDropStart = min(max(0, earlyDropStart), self.maxConcurrentHandshakes)
            self.earlyDropRate = min(max(0, earlyDropRate), 100)
            self.preambleTimeout = max(preambleTimeout, .milliseconds(1))
            self.penaltyPerTimeout = max(penaltyPerTimeout, .zero)
            self.penaltyGrace = max(penaltyGrace, .zero)
            self.maxPenalty = max(maxPenalty, self.penaltyGrace)
        }

        /// The defaults of docs/protocol.md.
        public static let `default` = Policy()
    }

    /// What ``admit(_:using:)`` decided.
    public enum Decision: Sendable, Hashable {
        /// A slot is taken; release it with ``release(_:)``.
        case admitted
        /// ``Policy/maxConcurrentHandshakes`` handshakes are unfinished.
        case refusedFull
        /// The source has ``Policy/maxHandshakesPerSource`` unfinished handshakes.
        case refusedSourceLimit
        /// The source is penalized for connections that ran out of time.
        case refusedPenalty
        /// Dropped at random (the table is nearly full).
        case refusedEarlyDrop
    }

    public let policy: Policy
    /// Unfinished handshakes, from all sources.
    public private(set) var unfinished = 0
    private var bySource: [HandshakeSource: Int] = [:]
    /// Per source: its penalty as of `at` (monotonic time).
    private var penalties: [HandshakeSource: (penalty: Duration, at: Duration)] = [:]

    public init(policy: Policy = .default) {
        self.policy = policy
    }

    /// Unfinished handshakes of `source`.
    public func unfinished(of source: HandshakeSource) -> Int {
        bySource[source] ?? 0
    }

    /// The number of sources with an unfinished handshake.
    public var sources: Int { bySource.count }

    /// The chance, in percent, that a new connection is dropped at random while `unfinished`
    /// handshakes are unfinished (before the per-source cap is looked at).
    public func dropPercent(atUnfinished unfinished: Int) -> Int {
        let full = policy.maxConcurrentHandshakes
        let start = policy.earlyDropStart
        if unfinished >= full { return 100 }
        if unfinished < start { return 0 }
        // start < full here.
        return policy.earlyDropRate + (100 - policy.earlyDropRate) * (unfinished - start) / (full - start)
    }

    /// The penalty of `source` at `now` (monotonic time, any fixed origin).
    public func penalty(of source: HandshakeSource, now: Duration) -> Duration {
        guard let entry = penalties[source] else { return .zero }
        return max(.zero, entry.penalty - max(.zero, now - entry.at))
    }

    /// The number of sources with a penalty remembered.
    public var penalizedSources: Int { penalties.count }

    /// Records that a connection from `source` ran out of time before finishing its handshake.
    public mutating func penalize(_ source: HandshakeSource, now: Duration) {
        guard policy.penaltyPerTimeout > .zero else { return }
        let current = penalty(of: source, now: now)
        if current == .zero, penalties[source] == nil, penalties.count >= Policy.maxPenalizedSources {
            penalties = penalties.filter { penalty(of: $0.key, now: now) > .zero }
            guard penalties.count < Policy.maxPenalizedSources else { return }
        }
        penalties[source] = (min(current + policy.penaltyPerTimeout, policy.maxPenalty), now)
    }

    /// Decides whether a new connection from `source` may start a handshake at `now` (monotonic
    /// time, the same origin as for ``penalize(_:now:)``), and takes a slot if so. `generator`
    /// supplies the early drop's random number.
    public mutating func admit(
        _ source: HandshakeSource, now: Duration, using generator: inout some RandomNumberGenerator
    ) -> Decision {
        if unfinished >= policy.maxConcurrentHandshakes { return .refusedFull }
        if penalties[source] != nil {
            let current = penalty(of: source, now: now)
            if current == .zero { penalties[source] = nil }
            if current > policy.penaltyGrace, unfinished >= policy.earlyDropStart { return .refusedPenalty }
        }
        if unfinished(of: source) >= policy.maxHandshakesPerSource { return .refusedSourceLimit }
        let percent = dropPercent(atUnfinished: unfinished)
        if percent > 0, Int.random(in: 0..<100, using: &generator) < percent { return .refusedEarlyDrop }
        unfinished += 1
        bySource[source, default: 0] += 1
        return .admitted
    }

    /// Gives back the slot of a connection from `source` that was admitted: its handshake finished
    /// or it closed. A source with no admitted connection is ignored.
    public mutating func release(_ source: HandshakeSource) {
        guard let count = bySource[source] else { return }
        if count <= 1 { bySource[source] = nil } else { bySource[source] = count - 1 }
        unfinished -= 1
    }
}
