public import S2SBus
public import S2SCore

/// A transfer as the daemon last described it: its `org.s2s.Daemon1.Transfer` properties
/// (`TransferAdded`, `ListTransfers`, `GetAll`), kept up to date from `TransferProgress` signals
/// with ``apply(_:)``.
///
/// Strings the daemon leaves empty for "none" (destination, digest, error...) are nil here.
/// Properties that older daemons lack (`Names`, the queue's and move mode's) take their
/// defaults. The top-level names of what the transfer carries come from `Names` (a directory's
/// ending in "/"); from a daemon without it, they are gathered from `CurrentFile` on the way
/// (receive side) or from the sources (send side).
public struct TransferSnapshot: Sendable, Equatable {
    public let path: ObjectPath
    public let direction: TransferDirection
    public var state: TransferState
    /// "direct" or "relay".
    public let route: String
    /// The UID of the user it belongs to.
    public let owner: UInt32
    /// The endpoint it arrives in (receive side).
    public let endpoint: ObjectPath?
    /// `ID@HOST:PORT` or `ID` (send side).
    public let destination: String?
    /// The paths given to `Send` (send side); from a list (`ListTransfers`), only the first
    /// ones: ``sourceCount`` says how many there are.
    public let sources: [String]
    /// How many paths were given to `Send` (send side).
    public let sourceCount: Int
    /// "xxh3-128" or "sha256".
    public let digestAlgorithm: String
    /// The digest of a single-file transfer, in hexadecimal, once known.
    public var digest: String?
    public var bytesDone: UInt64
    public var bytesTotal: UInt64
    /// Bytes the receiver already held when a retried transfer started.
    public var bytesResumed: UInt64
    public var filesDone: UInt64
    public var filesTotal: UInt64
    /// Bytes per second over the last seconds.
    public var rate: UInt64
    /// The transfer's own limit in bytes per second; 0: none.
    public var rateLimit: UInt64
    /// Move mode: each source file is removed once the receiver confirmed it.
    public let removeSource: Bool
    /// Move mode: sources kept, each "PATH: REASON".
    public var keptSources: [String]
    /// The relative path of the file being moved.
    public var currentFile: String?
    /// Why it failed or was cancelled.
    public var error: String?
    /// Microseconds since the epoch.
    public let createdTimestamp: UInt64
    /// Microseconds since the epoch; nil while it runs.
    public var finishedTimestamp: UInt64?
    /// The send queue's order, -100 to 100 (0 for incoming transfers).
    public let priority: Int32
    /// Sender: attempts started so far.
    public var attempts: UInt32
    /// Sender: when the next attempt starts, in microseconds since the epoch.
    public var nextAttempt: UInt64?
    /// Sender: why the last attempt failed.
    public var lastError: String?
    /// The top-level names it carries, in order, without the "/" of directories.
    public private(set) var names: [String] = []
    /// Those of ``names`` that are directories.
    public private(set) var folders: Set<String> = []

    /// Every field; `names` are `Names` as the daemon gives them. The first ones are those a
    /// notification shows, so that tests name only what they look at.
    public init(
        path: ObjectPath, direction: TransferDirection, owner: UInt32 = 0, state: TransferState, bytesDone: UInt64 = 0,
        bytesTotal: UInt64 = 0, filesDone: UInt64 = 0, filesTotal: UInt64 = 0, rate: UInt64 = 0, error: String? = nil,
        endpoint: ObjectPath? = nil, destination: String? = nil, sources: [String] = [], sourceCount: Int? = nil, names: [String] = [],
        currentFile: String? = nil, route: String = "direct", digestAlgorithm: String = "xxh3-128", digest: String? = nil,
        bytesResumed: UInt64 = 0, rateLimit: UInt64 = 0, removeSource: Bool = false, keptSources: [String] = [],
        createdTimestamp: UInt64 = 0, finishedTimestamp: UInt64? = nil, priority: Int32 = 0, attempts: UInt32 = 0,
        nextAttempt: UInt64? = nil, lastError: String? = nil
    ) {
        self.path = path
        self.direction = direction
        self.state = state
        self.route = route
        self.owner = owner
        self.endpoint = endpoint
        self.destination = destination
        self.sources = sources
        self.sourceCount = max(sourceCount ?? sources.count, sources.count)
        self.digestAlgorithm = digestAlgorithm
        self.digest = digest
        self.bytesDone = bytesDone
        self.bytesTotal = bytesTotal
        self.bytesResumed = bytesResumed
        self.filesDone = filesDone
        self.filesTotal = filesTotal
        self.rate = rate
        self.rateLimit = rateLimit
        self.removeSource = removeSource
        self.keptSources = keptSources
        self.currentFile = currentFile
        self.error = error
        self.createdTimestamp = createdTimestamp
        self.finishedTimestamp = finishedTimestamp
        self.priority = priority
        self.attempts = attempts
        self.nextAttempt = nextAttempt
        self.lastError = lastError
        for name in names where name != "/" {
            note(name.hasSuffix("/") ? String(name.dropLast()) : name, isFolder: name.hasSuffix("/"))
        }
        if names.isEmpty, direction == .send {
            for case let name? in sources.map({ $0.split(separator: "/").last.map(String.init) }) { note(name, isFolder: false) }
        }
        noteFile(currentFile ?? "")
    }

    /// From the daemon's Transfer properties (``TransferProperty`` names, variants unwrapped).
    public init(path: ObjectPath, properties: [String: DBusValue]) throws(MalformedReply) {
        let reader = PropertyReader(properties: properties, object: "a transfer")
        func required<T>(_ property: TransferProperty, _ extract: (DBusValue) -> T?) throws(MalformedReply) -> T {
            try reader.required(property.rawValue, extract)
        }
        func text(_ property: TransferProperty) throws(MalformedReply) -> String? { try reader.text(property.rawValue) }
        func optional<T>(_ property: TransferProperty, _ extract: (DBusValue) -> T?) -> T? {
            reader.optional(property.rawValue, extract)
        }
        let endpoint = try required(.endpoint, \.objectPathValue)
        let finished = try required(.finishedTimestamp, \.uint64Value)
        let nextAttempt = optional(.nextAttempt, \.uint64Value) ?? 0
        self.init(
            path: path, direction: try required(.direction, { $0.stringValue.flatMap(TransferDirection.init(rawValue:)) }),
            owner: try required(.owner, \.uint32Value),
            state: try required(.state, { $0.stringValue.flatMap(TransferState.init(rawValue:)) }),
            bytesDone: try required(.bytesDone, \.uint64Value), bytesTotal: try required(.bytesTotal, \.uint64Value),
            filesDone: try required(.filesDone, \.uint64Value), filesTotal: try required(.filesTotal, \.uint64Value),
            rate: try required(.rate, \.uint64Value), error: try text(.error).map(ErrorText.humanized), endpoint: endpoint.rawValue == "/" ? nil : endpoint,
            destination: try text(.destination), sources: try required(.sources, \.stringArrayValue),
            sourceCount: optional(.sourceCount, \.uint32Value).map(Int.init),
            names: optional(.names, \.stringArrayValue) ?? [], currentFile: try text(.currentFile),
            route: try required(.route, \.stringValue),
            digestAlgorithm: Self.digestName(try required(.digestAlgorithm, \.stringValue)),
            digest: try text(.digest), bytesResumed: try required(.bytesResumed, \.uint64Value),
            rateLimit: optional(.rateLimit, \.uint64Value) ?? 0, removeSource: optional(.removeSource, \.boolValue) ?? false,
            keptSources: optional(.keptSources, \.stringArrayValue) ?? [],
            createdTimestamp: try required(.createdTimestamp, \.uint64Value), finishedTimestamp: finished == 0 ? nil : finished,
            priority: optional(.priority, { if case .int32(let value) = $0 { value } else { nil } }) ?? 0,
            attempts: optional(.attempts, \.uint32Value) ?? 0, nextAttempt: nextAttempt == 0 ? nil : nextAttempt,
            lastError: optional(.lastError, \.stringValue).flatMap { $0.isEmpty ? nil : ErrorText.humanized($0) })
    }

    /// A digest's name as `--checksum` takes it ("xxh3-128", "sha256"), whichever spelling the
    /// daemon used (some daemons said "xxh3_128" for incoming transfers).
    public static func digestName(_ name: String) -> String {
        name.lowercased().replacing("_", with: "-")
    }

    /// N of `/org/s2s/Daemon1/transfer/UID_N`: the transfer's number among its owner's, which
    /// people use for it.
    public var number: Int64? { Self.number(of: path) }

    /// The owner and number of `/org/s2s/Daemon1/transfer/UID_N`; nil for any other path.
    public static func objectNumber(of path: ObjectPath) -> ObjectNumber? {
        ObjectNumber(path: path.rawValue, below: DaemonAPI.transferPathPrefix)
    }

    /// N of `/org/s2s/Daemon1/transfer/UID_N`; nil for any other path.
    public static func number(of path: ObjectPath) -> Int64? {
        objectNumber(of: path)?.number
    }

    /// The object of the transfer `number` names.
    public static func path(of number: ObjectNumber) -> ObjectPath? {
        ObjectPath(number.path(below: DaemonAPI.transferPathPrefix))
    }

    /// The object path of a transfer given as people give it: `N` (one of `caller`'s),
    /// `UID:N` or `USER:N` (another user's), or its object path.
    public static func path(from text: String, caller: UInt32) -> ObjectPath? {
        if let number = ObjectNumber(parsing: text, caller: caller) { return path(of: number) }
        guard let path = ObjectPath(text), objectNumber(of: path) != nil else { return nil }
        return path
    }

    /// Takes in a `TransferProgress` signal.
    public mutating func apply(_ progress: TransferProgress) {
        state = progress.state
        bytesDone = progress.bytesDone
        bytesTotal = progress.bytesTotal
        filesDone = progress.filesDone
        filesTotal = progress.filesTotal
        rate = progress.rate
        currentFile = progress.currentFile.isEmpty ? nil : progress.currentFile
        noteFile(progress.currentFile)
    }

    /// Takes in the final properties, keeping the names collected on the way.
    public mutating func update(from final: TransferSnapshot) {
        let (names, folders) = (self.names, self.folders)
        self = final
        for name in names where !self.names.contains(name) { self.names.append(name) }
        self.folders.formUnion(folders)
    }

    /// Records the top-level name of a relative path (`photos/2024/a.jpg` names the folder `photos`).
    mutating func noteFile(_ relativePath: String) {
        let components = relativePath.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: true)
        guard let first = components.first.map(String.init) else { return }
        note(first, isFolder: components.count > 1)
    }

    private mutating func note(_ name: String, isFolder: Bool) {
        if !names.contains(name) { names.append(name) }
        if isFolder { folders.insert(name) }
    }

    /// What the transfer carries, as far as is known.
    public var subject: Subject {
        guard names.count == 1, let name = names.first else {
            return names.count > 1 ? .items(names.count) : .unknown
        }
        return folders.contains(name) || filesTotal > 1 ? .folder(name) : .file(name)
    }

    /// What a transfer carries.
    public enum Subject: Sendable, Equatable {
        case file(String)
        case folder(String)
        /// Several top-level entries.
        case items(Int)
        /// No name known yet (a daemon without `Names`).
        case unknown

        /// The name of the single entry, if there is one.
        public var name: String? {
            switch self {
            case .file(let name), .folder(let name): name
            case .items, .unknown: nil
            }
        }
    }
}
