package import S2SCore
package import S2SProtocol
import Synchronization

/// One transfer, outgoing or incoming, while it runs and for a while after it ended: what the bus
/// shows as an `org.s2s.Daemon1.Transfer` object.
///
/// The session that drives it updates ``Progress`` under a lock on every chunk (cheap); the
/// `TransferRegistry` reads it at most four times a second to publish changes, so the data path
/// never waits for the bus.
package final class Transfer: Sendable {
    /// Outgoing or incoming (S2SCore's `TransferDirection`, which clients read too).
    package typealias Direction = TransferDirection
    /// The life of a transfer (S2SCore's `TransferState`); docs/queue.md draws the machine,
    /// docs/dbus-api.md lists the values.
    package typealias State = TransferState

    /// What changes while the transfer runs.
    package struct Progress: Sendable, Equatable {
        package var state: State
        package var bytesDone: UInt64 = 0
        package var bytesTotal: UInt64 = 0
        /// Bytes the receiver already held when the (retried) transfer started.
        package var bytesResumed: UInt64 = 0
        /// Files the receiver confirmed (sender), or published (receiver), and their bytes.
        package var filesDone: UInt64 = 0
        package var bytesConfirmed: UInt64 = 0
        package var filesTotal: UInt64 = 0
        /// The offered path of the file being sent or received.
        package var currentFile = ""
        /// Why it failed or was cancelled; empty otherwise.
        package var error = ""
        /// The digest of the transfer's file in hexadecimal, when the transfer is a single file.
        package var digest = ""
        /// Bytes per second, averaged over the last seconds; set by the registry.
        package var rate: UInt64 = 0
        /// Microseconds since the epoch; 0 while running.
        package var finishedTimestamp: UInt64 = 0
        /// This transfer's own limit in bytes per second (0: none), as ``Transfer/setRateLimit(_:)`` last set it.
        package var rateLimit: UInt64 = 0
        /// Move mode: sources that were not removed, each with the reason ("PATH: REASON").
        package var keptSources: [String] = []
        /// Sender: attempts started so far (connections tried).
        package var attempts: UInt32 = 0
        /// Sender: when the next attempt starts (microseconds since the epoch); 0: none planned.
        package var nextAttempt: UInt64 = 0
        /// Sender: why the last attempt did not finish the transfer; empty if none failed.
        package var lastError = ""

        /// Move mode: lists a source that stays, once however many attempts found it.
        package mutating func keep(_ entry: String) {
            if !keptSources.contains(entry) { keptSources.append(entry) }
        }

        /// Move mode: a source that an earlier attempt kept was removed after all.
        package mutating func removed(_ path: String) {
            keptSources.removeAll { $0.hasPrefix(path + ": ") }
        }
    }

    /// The database row: the engine's key, never reused, never shown to users (the bus and the
    /// journal name the transfer by ``objectNumber``).
    package let number: Int64
    /// The transfer's number among its owner's transfers, from 1, never reused for that owner.
    package let ownerNumber: Int64
    package let direction: Direction
    /// The user who sent it, or the receiving endpoint's owner.
    package let owner: UInt32
    /// "direct", "relay" or "punched".
    package let route: String
    /// The receiving endpoint (receive side only).
    package let endpoint: Endpoint?
    /// The receiving endpoint's number among its owner's, who owns this transfer too (nil on the
    /// send side); kept in the history after the endpoint is gone.
    package let endpointNumber: Int64?
    /// `ID@HOST:PORT` (send side only). The receiving side never learns anything about its sender.
    package let destination: String
    /// The source paths as the user gave them (send side only).
    package let sources: [String]
    /// The top-level entries it carries, directories with a trailing "/" (see `topLevelNames`).
    package let names: [String]
    package let digestAlgorithm: String
    package let createdTimestamp: UInt64
    /// Move mode (send side): each source file is removed once the receiver confirmed it whole.
    package let removeSource: Bool
    /// Paces this transfer's bytes: its own limit, beneath the daemon's upload or download limit.
    package let throttle: RateLimiter
    /// Sender: the queue's order, higher first (`Priority`).
    package let priority: Int32

    private let progress: Mutex<Progress>
    private let cancellation = Mutex<Cancellation>(Cancellation())

    private struct Cancellation {
        var requested: CancelCode?
        var pauseRequested = false
        var handler: (@Sendable (CancelCode?) -> Void)?
    }

    /// `ownerNumber` nil: the same as `number` (tests with one owner).
    package init(
        number: Int64, ownerNumber: Int64? = nil, direction: Direction, owner: UInt32, route: String = "direct", endpoint: Endpoint? = nil,
        destination: String = "", sources: [String] = [], names: [String] = [], digestAlgorithm: String,
        initialState: State, priority: Int32 = 0, createdTimestamp: UInt64 = Clock.nowMicroseconds, endpointNumber: Int64? = nil,
        rateLimit: UInt64 = 0, sharedLimit: RateLimiter? = nil, removeSource: Bool = false
    ) {
        self.endpointNumber = endpoint?.ownerNumber ?? endpointNumber
        self.number = number
        self.ownerNumber = ownerNumber ?? number
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

    /// What names the transfer on the bus and in the journal: its owner and ``ownerNumber``.
    package var objectNumber: ObjectNumber { ObjectNumber(owner: owner, number: ownerNumber) }

    /// What names the receiving endpoint (receive side): the transfer's owner owns it.
    package var endpointObjectNumber: ObjectNumber? { endpointNumber.map { ObjectNumber(owner: owner, number: $0) } }

    package func isVisible(in scope: Scope) -> Bool {
        scope.includes(owner: owner)
    }

    // MARK: Progress

    package var snapshot: Progress { progress.withLock { $0 } }

    package func update(_ body: (inout Progress) -> Void) {
        progress.withLock { body(&$0) }
    }

    /// Adds `count` bytes done; the hot path of both sessions.
    package func addBytes(_ count: Int) {
        progress.withLock { $0.bytesDone &+= UInt64(count) }
    }

    /// Ends the transfer in `state` (done, failed or cancelled) unless it has ended already.
    /// Returns whether this call ended it.
    @discardableResult
    package func finish(_ state: State, error: String = "") -> Bool {
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
    package func setRateLimit(_ bytesPerSecond: UInt64) {
        throttle.setRate(bytesPerSecond)
        update { $0.rateLimit = bytesPerSecond }
    }

    // MARK: Cancellation

    /// Why the transfer is being cancelled, if someone asked: `.cancelled` by a user,
    /// `.endpointGone` when the endpoint was deleted.
    package var cancelRequest: CancelCode? { cancellation.withLock { $0.requested } }

    /// Whether the owner asked to pause the running attempt (cleared by ``clearPause()``).
    package var pauseRequested: Bool { cancellation.withLock { $0.pauseRequested } }

    /// Installs what `requestCancel` and `requestPause` do for the running session: the code
    /// to send in CANCEL and close the connection, or, for nil (a pause), close it without a
    /// word so that the receiver keeps its data. Runs it at once if a cancel or a pause was
    /// already requested. Each attempt of a queued send installs its own handler.
    package func onCancel(_ handler: @escaping @Sendable (CancelCode?) -> Void) {
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
    package func clearCancelHandler() {
        cancellation.withLock { $0.handler = nil }
    }

    /// Asks the session to cancel: false if the transfer has already ended.
    package func requestCancel(_ code: CancelCode = .cancelled) -> Bool {
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
    package func requestPause() {
        let handler = cancellation.withLock { state -> (@Sendable (CancelCode?) -> Void)? in
            guard state.requested == nil, !state.pauseRequested else { return nil }
            state.pauseRequested = true
            return state.handler
        }
        handler?(nil)
    }

    /// Forgets a pause request (the transfer was resumed).
    package func clearPause() {
        cancellation.withLock { $0.pauseRequested = false }
    }

    /// The most names `Names` lists: enough for any message about a transfer, bounded for one
    /// that offers thousands of top-level entries.
    package static let maxNames = 64

    /// The names of the top-level entries among offered entries, in offer order, a directory's
    /// with a trailing "/": what a notification calls the transfer ("photos/", "report.pdf").
    package static func topLevelNames(_ entries: [OfferEntry]) -> [String] {
        var names: [String] = []
        var seen: [String: Int] = [:]
        // An offer lists each top-level entry's tree right after it: most entries share the first
        // component of the one before, found without hashing.
        var last: (first: Substring, index: Int)?
        for entry in entries {
            let components = entry.path.string.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: true)
            guard let firstComponent = components.first else { continue }
            let index: Int
            if let last, last.first.utf8.elementsEqual(firstComponent.utf8) {
                index = last.index
            } else {
                let first = String(firstComponent)
                if let seenIndex = seen[first] {
                    index = seenIndex
                } else {
                    guard names.count < maxNames else { continue }
                    index = names.count
                    seen[first] = index
                    names.append(first)
                }
                last = (firstComponent, index)
            }
            if components.count > 1 || entry.kind == .directory, !names[index].hasSuffix("/") { names[index] += "/" }
        }
        return names
    }
}
