public import S2SBus
public import S2SClient

/// The agent's knowledge of one transfer: its properties as the daemon announced them, kept up to
/// date from the progress signals, plus the names of what it carries.
///
/// The receiving side learns names only from `CurrentFile` while files move (the daemon tells a
/// receiver nothing else about the offer), so the top-level names seen on the way are collected;
/// a transfer too quick to show one is described by its counts.
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
    /// Top-level names seen in `CurrentFile`, in the order first seen (receive side).
    public private(set) var seenNames: [String] = []
    /// Whether a path below a top-level name was seen: the top-level entry is a folder.
    public private(set) var sawFolder = false

    public static let finishedStates: Set<String> = ["done", "failed", "cancelled"]

    public init(
        path: ObjectPath, direction: Direction, owner: UInt32 = 0, state: String, bytesDone: UInt64 = 0,
        bytesTotal: UInt64 = 0, filesDone: UInt64 = 0, filesTotal: UInt64 = 0, rate: UInt64 = 0, error: String = "",
        endpoint: ObjectPath? = nil, destination: String = "", sources: [String] = [], currentFile: String = ""
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
        let names = seenNames
        let folder = sawFolder
        self = final
        for name in names where !seenNames.contains(name) { seenNames.append(name) }
        sawFolder = sawFolder || folder
    }

    /// Records the top-level name of a relative path (`photos/2024/a.jpg` names `photos`).
    mutating func noteFile(_ relativePath: String) {
        let components = relativePath.split(separator: "/", omittingEmptySubsequences: true)
        guard let first = components.first else { return }
        let name = String(first)
        if !seenNames.contains(name) { seenNames.append(name) }
        if components.count > 1 { sawFolder = true }
    }

    /// What the transfer carries, as far as the agent knows.
    public var subject: Subject {
        switch direction {
        case .send:
            guard sources.count == 1, let name = sources[0].split(separator: "/").last.map(String.init) else {
                return .items(sources.count)
            }
            return filesTotal > 1 || sawFolder ? .folder(name) : .file(name)
        case .receive:
            guard seenNames.count == 1, let name = seenNames.first else { return .unknown }
            return filesTotal > 1 || sawFolder ? .folder(name) : .file(name)
        }
    }

    /// What a transfer carries.
    public enum Subject: Sendable, Equatable {
        case file(String)
        case folder(String)
        /// Several top-level entries (send side: the number of sources).
        case items(Int)
        /// Nothing seen yet (receive side).
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
