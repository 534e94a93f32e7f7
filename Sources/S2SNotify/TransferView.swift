public import S2SBus
public import S2SClient

/// The agent's knowledge of one transfer: its properties as the daemon announced them, kept up to
/// date from the progress signals, plus the names of what it carries.
///
/// Names come from the `Names` property (the top-level entries, a directory's ending in "/");
/// from a daemon without it, they are gathered from `CurrentFile` on the way (receive side) or
/// the sources (send side), and a transfer too quick to show one is described by its counts.
public struct TransferView: Sendable, Equatable {
    public enum Direction: String, Sendable {
        case send, receive
    }

    public let path: ObjectPath
    public let direction: Direction
    public let owner: UInt32
    public var state: String
    public var bytesDone: UInt64
    public var bytesTotal: UInt64
    public var filesDone: UInt64
    public var filesTotal: UInt64
    public var rate: UInt64
    /// Why it failed or was cancelled; empty otherwise.
    public var error: String
    /// The endpoint it arrives in (receive side).
    public let endpoint: ObjectPath?
    /// `ID@HOST:PORT` (send side).
    public let destination: String
    /// The paths given to `Send` (send side).
    public let sources: [String]
    /// The top-level names it carries, in order, without the "/" of directories.
    public private(set) var names: [String] = []
    /// Those of `names` that are directories.
    public private(set) var folders: Set<String> = []

    public static let finishedStates: Set<String> = ["done", "failed", "cancelled"]

    public init(
        path: ObjectPath, direction: Direction, owner: UInt32 = 0, state: String, bytesDone: UInt64 = 0,
        bytesTotal: UInt64 = 0, filesDone: UInt64 = 0, filesTotal: UInt64 = 0, rate: UInt64 = 0, error: String = "",
        endpoint: ObjectPath? = nil, destination: String = "", sources: [String] = [], names: [String] = [],
        currentFile: String = ""
    ) {
        self.path = path
        self.direction = direction
        self.owner = owner
        self.state = state
        self.bytesDone = bytesDone
        self.bytesTotal = bytesTotal
        self.filesDone = filesDone
        self.filesTotal = filesTotal
        self.rate = rate
        self.error = error
        self.endpoint = endpoint
        self.destination = destination
        self.sources = sources
        for name in names where name != "/" {
            note(name.hasSuffix("/") ? String(name.dropLast()) : name, isFolder: name.hasSuffix("/"))
        }
        if names.isEmpty, direction == .send {
            for case let name? in sources.map({ $0.split(separator: "/").last.map(String.init) }) { note(name, isFolder: false) }
        }
        noteFile(currentFile)
    }

    /// From the daemon's `org.s2s.Daemon1.Transfer` properties (`TransferAdded`, `GetAll`).
    public init(path: ObjectPath, properties: [String: DBusValue]) throws(MalformedReply) {
        let reader = PropertyReader(properties: properties, object: "a transfer")
        let directionText = try reader.required("Direction", \.stringValue)
        guard let direction = Direction(rawValue: directionText) else {
            throw MalformedReply(message: "the daemon sent a transfer with direction \"\(directionText)\"")
        }
        let endpoint = try reader.required("Endpoint", \.objectPathValue)
        self.init(
            path: path, direction: direction, owner: try reader.required("Owner", \.uint32Value),
            state: try reader.required("State", \.stringValue), bytesDone: try reader.required("BytesDone", \.uint64Value),
            bytesTotal: try reader.required("BytesTotal", \.uint64Value), filesDone: try reader.required("FilesDone", \.uint64Value),
            filesTotal: try reader.required("FilesTotal", \.uint64Value), rate: try reader.required("Rate", \.uint64Value),
            error: try reader.required("Error", \.stringValue), endpoint: endpoint.rawValue == "/" ? nil : endpoint,
            destination: try reader.required("Destination", \.stringValue),
            sources: try reader.required("Sources", \.stringArrayValue),
            names: properties["Names"]?.unwrappingVariant.stringArrayValue ?? [],
            currentFile: try reader.required("CurrentFile", \.stringValue))
    }

    public var isFinished: Bool { Self.finishedStates.contains(state) }

    /// Takes in a `TransferProgress` signal.
    public mutating func apply(_ progress: TransferProgress) {
        state = progress.state
        bytesDone = progress.bytesDone
        bytesTotal = progress.bytesTotal
        filesDone = progress.filesDone
        filesTotal = progress.filesTotal
        rate = progress.rate
        noteFile(progress.currentFile)
    }

    /// Takes in the final properties, keeping the names collected on the way.
    public mutating func update(from final: TransferView) {
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

    /// What the transfer carries, as far as the agent knows.
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
