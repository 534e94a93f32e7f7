import S2SBus
import S2SCore
import S2SProtocol
import Synchronization

/// One transfer, outgoing or incoming, while it runs and for a while after it ended: what the bus
/// shows as an `org.s2s.Daemon1.Transfer` object.
///
/// The session that drives it updates ``Progress`` under a lock on every chunk (cheap); the
/// `TransferRegistry` reads it at most four times a second to publish changes, so the data path
/// never waits for the bus.
final class Transfer: Sendable {
    enum Direction: String, Sendable {
        case send, receive
    }

    /// The life of a transfer; docs/queue.md draws the machine, docs/dbus-api.md lists the values.
    enum State: String, Sendable, CaseIterable {
        /// Sender: waiting in the queue for a free slot or for its next attempt (`NextAttempt`).
        case queued
        /// Sender: stopped by its owner (`Pause`) until `Resume`; the receiver keeps its data.
        case paused
        /// Sender: connecting, handshake, offer, until the receiver answered.
        case connecting
        /// Data is flowing out (sender) or in (receiver).
        case sending, receiving
        /// Every byte is out; waiting for the receiver's last confirmations.
        case verifying
        case done, failed, cancelled

        var isFinished: Bool { self == .done || self == .failed || self == .cancelled }
    }

    /// What changes while the transfer runs.
    struct Progress: Sendable, Equatable {
        var state: State
        var bytesDone: UInt64 = 0
        var bytesTotal: UInt64 = 0
        /// Bytes the receiver already held when the (retried) transfer started.
        var bytesResumed: UInt64 = 0
        /// Files the receiver confirmed (sender), or published (receiver), and their bytes.
        var filesDone: UInt64 = 0
        var bytesConfirmed: UInt64 = 0
        var filesTotal: UInt64 = 0
        /// The offered path of the file being sent or received.
        var currentFile = ""
        /// Why it failed or was cancelled; empty otherwise.
        var error = ""
        /// The digest of the transfer's file in hexadecimal, when the transfer is a single file.
        var digest = ""
        /// Bytes per second, averaged over the last seconds; set by the registry.
        var rate: UInt64 = 0
        /// Microseconds since the epoch; 0 while running.
        var finishedTimestamp: UInt64 = 0
        /// This transfer's own limit in bytes per second (0: none), as ``Transfer/setRateLimit(_:)`` last set it.
        var rateLimit: UInt64 = 0
        /// Move mode: sources that were not removed, each with the reason ("PATH: REASON").
        var keptSources: [String] = []
        /// Sender: attempts started so far (connections tried).
        var attempts: UInt32 = 0
        /// Sender: when the next attempt starts (microseconds since the epoch); 0: none planned.
        var nextAttempt: UInt64 = 0
        /// Sender: why the last attempt did not finish the transfer; empty if none failed.
        var lastError = ""

        /// Move mode: lists a source that stays, once however many attempts found it.
        mutating func keep(_ entry: String) {
            if !keptSources.contains(entry) { keptSources.append(entry) }
        }

        /// Move mode: a source that an earlier attempt kept was removed after all.
        mutating func removed(_ path: String) {
            keptSources.removeAll { $0.hasPrefix(path + ": ") }
        }
    }

    let number: Int64
    let direction: Direction
    let owner: UInt32
    /// "direct" or "relay"; the punched route comes with its own issue.
    let route: String
    /// The receiving endpoint (receive side only).
    let endpoint: Endpoint?
    /// The receiving endpoint's object ("/" on the send side); kept in the history after the
    /// endpoint is gone.
    let endpointPath: ObjectPath
    /// `ID@HOST:PORT` (send side only). The receiving side never learns anything about its sender.
    let destination: String
    /// The source paths as the user gave them (send side only).
    let sources: [String]
    /// The top-level entries it carries, directories with a trailing "/" (see `topLevelNames`).
    let names: [String]
    let digestAlgorithm: String
    let createdTimestamp: UInt64
    /// Move mode (send side): each source file is removed once the receiver confirmed it whole.
    let removeSource: Bool
    /// Paces this transfer's bytes: its own limit, beneath the daemon's upload or download limit.
    let throttle: RateLimiter
    /// Sender: the queue's order, higher first (`Priority`).
    let priority: Int32

    private let progress: Mutex<Progress>
    private let cancellation = Mutex<Cancellation>(Cancellation())

    private struct Cancellation {
        var requested: CancelCode?
        var pauseRequested = false
        var handler: (@Sendable (CancelCode?) -> Void)?
    }

    init(
        number: Int64, direction: Direction, owner: UInt32, route: String = "direct", endpoint: Endpoint? = nil,
        destination: String = "", sources: [String] = [], names: [String] = [], digestAlgorithm: String,
        initialState: State, priority: Int32 = 0, createdTimestamp: UInt64 = Clock.nowMicroseconds, endpointPath: ObjectPath? = nil,
        rateLimit: UInt64 = 0, sharedLimit: RateLimiter? = nil, removeSource: Bool = false
    ) {
        self.endpointPath = endpoint?.objectPath ?? endpointPath ?? "/"
        self.number = number
        self.direction = direction
        self.owner = owner
        self.route = route
        self.endpoint = endpoint
        self.destination = destination
        self.sources = sources
        self.names = names
        self.digestAlgorithm = digestAlgorithm
        self.createdTimestamp = createdTimestamp
        self.priority = priority
        self.removeSource = removeSource
        self.throttle = RateLimiter(rate: rateLimit, parent: sharedLimit)
        self.progress = Mutex(Progress(state: initialState, rateLimit: rateLimit))
    }

    var objectPath: ObjectPath {
        ObjectPath("\(DaemonAPI.transferPathPrefix)/\(number)") ?? "/"
    }

    func isVisible(in scope: Scope) -> Bool {
        scope.includes(owner: owner)
    }

    // MARK: Progress

    var snapshot: Progress { progress.withLock { $0 } }

    func update(_ body: (inout Progress) -> Void) {
        progress.withLock { body(&$0) }
    }

    /// Adds `count` bytes done; the hot path of both sessions.
    func addBytes(_ count: Int) {
        progress.withLock { $0.bytesDone &+= UInt64(count) }
    }

    /// Ends the transfer in `state` (done, failed or cancelled) unless it has ended already.
    /// Returns whether this call ended it.
    @discardableResult
    func finish(_ state: State, error: String = "") -> Bool {
        progress.withLock { progress in
            guard !progress.state.isFinished else { return false }
            progress.state = state
            progress.error = error
            progress.currentFile = ""
            progress.rate = 0
            progress.finishedTimestamp = Clock.nowMicroseconds
            return true
        }
    }

    /// Changes this transfer's own limit while it runs (0: none); the daemon's still applies.
    func setRateLimit(_ bytesPerSecond: UInt64) {
        throttle.setRate(bytesPerSecond)
        update { $0.rateLimit = bytesPerSecond }
    }

    // MARK: Cancellation

    /// Why the transfer is being cancelled, if someone asked: `.cancelled` by a user,
    /// `.endpointGone` when the endpoint was deleted.
    var cancelRequest: CancelCode? { cancellation.withLock { $0.requested } }

    /// Whether the owner asked to pause the running attempt (cleared by ``clearPause()``).
    var pauseRequested: Bool { cancellation.withLock { $0.pauseRequested } }

    /// Installs what `requestCancel` and `requestPause` do for the running session: the code
    /// to send in CANCEL and close the connection, or, for nil (a pause), close it without a
    /// word so that the receiver keeps its data. Runs it at once if a cancel or a pause was
    /// already requested. Each attempt of a queued send installs its own handler.
    func onCancel(_ handler: @escaping @Sendable (CancelCode?) -> Void) {
        let pending = cancellation.withLock { state -> (CancelCode?, Bool) in
            state.handler = handler
            return (state.requested, state.pauseRequested)
        }
        if let code = pending.0 {
            handler(code)
        } else if pending.1 {
            handler(nil)
        }
    }

    /// Removes the session's handler (its attempt ended).
    func clearCancelHandler() {
        cancellation.withLock { $0.handler = nil }
    }

    /// Asks the session to cancel: false if the transfer has already ended.
    func requestCancel(_ code: CancelCode = .cancelled) -> Bool {
        guard !snapshot.state.isFinished else { return false }
        let handler = cancellation.withLock { state -> (@Sendable (CancelCode?) -> Void)? in
            guard state.requested == nil else { return nil }
            state.requested = code
            return state.handler
        }
        handler?(code)
        return true
    }

    /// Asks the running attempt, if any, to stop without cancelling (the queue's `Pause`).
    func requestPause() {
        let handler = cancellation.withLock { state -> (@Sendable (CancelCode?) -> Void)? in
            guard state.requested == nil, !state.pauseRequested else { return nil }
            state.pauseRequested = true
            return state.handler
        }
        handler?(nil)
    }

    /// Forgets a pause request (the transfer was resumed).
    func clearPause() {
        cancellation.withLock { $0.pauseRequested = false }
    }

    // MARK: The bus

    /// The values of the `org.s2s.Daemon1.Transfer` properties.
    var properties: [String: DBusValue] {
        let progress = snapshot
        return [
            "Direction": .string(direction.rawValue),
            "State": .string(progress.state.rawValue),
            "Route": .string(route),
            "Owner": .uint32(owner),
            "Endpoint": .objectPath(endpointPath),
            "Destination": .string(destination),
            "Sources": .strings(sources),
            "Names": .strings(names),
            "DigestAlgorithm": .string(digestAlgorithm),
            "Digest": .string(progress.digest),
            "BytesDone": .uint64(progress.bytesDone),
            "BytesTotal": .uint64(progress.bytesTotal),
            "BytesResumed": .uint64(progress.bytesResumed),
            "FilesDone": .uint64(progress.filesDone),
            "FilesTotal": .uint64(progress.filesTotal),
            "Rate": .uint64(progress.rate),
            "CurrentFile": .string(progress.currentFile),
            "Error": .string(progress.error),
            "CreatedTimestamp": .uint64(createdTimestamp),
            "FinishedTimestamp": .uint64(progress.finishedTimestamp),
            "RateLimit": .uint64(progress.rateLimit),
            "RemoveSource": .boolean(removeSource),
            "KeptSources": .strings(progress.keptSources),
            "Priority": .int32(priority),
            "Attempts": .uint32(progress.attempts),
            "NextAttempt": .uint64(progress.nextAttempt),
            "LastError": .string(progress.lastError),
        ]
    }

    /// The most names `Names` lists: enough for any message about a transfer, bounded for one
    /// that offers thousands of top-level entries.
    static let maxNames = 64

    /// The names of the top-level entries among offered entries, in offer order, a directory's
    /// with a trailing "/": what a notification calls the transfer ("photos/", "report.pdf").
    static func topLevelNames(_ entries: [OfferEntry]) -> [String] {
        var names: [String] = []
        var seen: [String: Int] = [:]
        for entry in entries {
            let components = entry.path.string.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: true)
            guard let first = components.first.map(String.init) else { continue }
            let isDirectory = components.count > 1 || entry.kind == .directory
            if let index = seen[first] {
                if isDirectory, !names[index].hasSuffix("/") { names[index] += "/" }
                continue
            }
            guard names.count < maxNames else { continue }
            seen[first] = names.count
            names.append(isDirectory ? first + "/" : first)
        }
        return names
    }

    /// The properties that change while a transfer runs, for `PropertiesChanged`.
    static let changingProperties: Set<String> = [
        "State", "Digest", "BytesDone", "BytesTotal", "BytesResumed", "FilesDone", "FilesTotal", "Rate",
        "CurrentFile", "Error", "FinishedTimestamp", "RateLimit", "KeptSources", "Attempts", "NextAttempt", "LastError",
    ]
}
