public import S2SBus
public import S2SClient
public import S2SCore

/// Decides which notifications to show, update, close or leave alone, from the daemon's events
/// and the passing of time. Pure and synchronous: it returns ``PlannerCommand``s for the agent to
/// carry out, so every rule below is unit-tested with an explicit clock.
///
/// - A running transfer gets one notification, shown once it has run for `startDelay` (a quick
///   transfer shows only its result), then updated in place at most once per `updateInterval`.
/// - Transfers that finish well into one endpoint (or to one destination) within
///   `coalesceWindow` of each other are told as one message that grows in place; a transfer's
///   own notification becomes that message, or closes when the message already exists.
/// - A failure or cancellation replaces the transfer's notification with the reason.
/// - A notification the user dismissed is not shown again for the same transfer or batch.
public struct NotificationPlanner: Sendable {
    public struct Settings: Sendable, Equatable {
        public var startDelay: Duration
        public var updateInterval: Duration
        public var coalesceWindow: Duration

        public init(startDelay: Duration = .seconds(1), updateInterval: Duration = .seconds(1), coalesceWindow: Duration = .seconds(10)) {
            self.startDelay = startDelay
            self.updateInterval = updateInterval
            self.coalesceWindow = coalesceWindow
        }
    }

    private struct Tracked: Sendable {
        var view: TransferSnapshot
        let since: ContinuousClock.Instant
        var throttle: UpdateThrottle
        var shown = false
        /// The user dismissed it: no more updates for this transfer.
        var muted = false
        /// Changed since the last update that went out.
        var dirty = false
    }

    public let settings: Settings
    public var composer: MessageComposer
    private var transfers: [ObjectPath: Tracked] = [:]
    private var batches: [BatchKey: ArrivalBatch] = [:]
    private var endpointDirectories: [ObjectPath: String] = [:]

    public init(settings: Settings = Settings(), capabilities: ServerCapabilities = ServerCapabilities()) {
        self.settings = settings
        self.composer = MessageComposer(capabilities: capabilities)
    }

    // MARK: What the agent tells the planner

    /// Where an endpoint's files go, for the text and "Open folder".
    public mutating func setEndpointDirectory(_ directory: String?, for endpoint: ObjectPath) {
        endpointDirectories[endpoint] = directory
    }

    public func isTracking(_ path: ObjectPath) -> Bool { transfers[path] != nil }

    /// A transfer started (or was found running after the daemon appeared).
    public mutating func added(_ view: TransferSnapshot, at now: ContinuousClock.Instant) -> [PlannerCommand] {
        guard !view.state.isFinished, transfers[view.path] == nil else { return [] }
        transfers[view.path] = Tracked(view: view, since: now, throttle: UpdateThrottle(interval: settings.updateInterval))
        return []
    }

    /// A `TransferProgress` signal.
    public mutating func progress(_ path: ObjectPath, _ progress: TransferProgress, at now: ContinuousClock.Instant) -> [PlannerCommand] {
        guard var tracked = transfers[path] else { return [] }
        tracked.view.apply(progress)
        tracked.dirty = true
        var commands: [PlannerCommand] = []
        if tracked.shown, !tracked.muted, tracked.throttle.allows(now) {
            commands.append(.show(.transfer(path), runningContent(tracked.view), takeOver: nil))
            tracked.throttle.sent(now)
            tracked.dirty = false
        }
        transfers[path] = tracked
        return commands
    }

    /// A transfer ended; `final` holds its last properties (or what was known, if they could not
    /// be read).
    public mutating func finished(_ final: TransferSnapshot, at now: ContinuousClock.Instant) -> [PlannerCommand] {
        var view = final
        let tracked = transfers.removeValue(forKey: final.path)
        if let tracked { view = tracked.view; view.update(from: final) }
        let key = NotificationKey.transfer(view.path)
        let ownNotification = tracked.map { $0.shown && !$0.muted } ?? false
        guard view.state == .done else {
            let content = composer.ended(view, endpointDirectory: directory(of: view))
            return [.show(key, content, takeOver: nil), .forget(key)]
        }
        let batchKey = BatchKey(direction: view.direction, target: view.endpoint?.rawValue ?? view.destination ?? "")
        var commands: [PlannerCommand] = []
        var batch: ArrivalBatch
        var takeOver: NotificationKey?
        if let existing = batches[batchKey], existing.accepts(at: now, window: settings.coalesceWindow) {
            batch = existing
            if ownNotification { commands.append(.close(key)) }
        } else {
            if batches[batchKey] != nil { commands.append(.forget(.batch(batchKey))) }
            batch = ArrivalBatch(startedAt: now)
            takeOver = ownNotification ? key : nil
        }
        batch.add(view, at: now)
        batches[batchKey] = batch
        let content = composer.finished(
            batch, direction: view.direction, endpointDirectory: directory(of: view), destination: view.destination ?? "")
        commands.append(.show(.batch(batchKey), content, takeOver: takeOver))
        return commands
    }

    /// A transfer ended whose final properties could not be read (the daemon went away at that
    /// moment): what the planner knows of it, with the state and reason of the signal.
    public mutating func finished(
        _ path: ObjectPath, state: TransferState, error: String, at now: ContinuousClock.Instant
    ) -> [PlannerCommand] {
        guard var view = transfers[path]?.view else { return [] }
        view.state = state
        view.error = error.isEmpty ? nil : error
        if state == .done { view.bytesDone = view.bytesTotal; view.filesDone = view.filesTotal }
        return finished(view, at: now)
    }

    /// The passing of time: delayed first notifications, throttled updates, old batches.
    public mutating func tick(at now: ContinuousClock.Instant) -> [PlannerCommand] {
        var commands: [PlannerCommand] = []
        for path in transfers.keys.sorted() {
            guard var tracked = transfers[path], !tracked.muted else { continue }
            let due = tracked.shown ? tracked.dirty && tracked.throttle.allows(now) : now - tracked.since >= settings.startDelay
            guard due else { continue }
            commands.append(.show(.transfer(path), runningContent(tracked.view), takeOver: nil))
            tracked.shown = true
            tracked.dirty = false
            tracked.throttle.sent(now)
            transfers[path] = tracked
        }
        for (key, batch) in batches where now - batch.lastAdded > settings.coalesceWindow {
            batches[key] = nil
            commands.append(.forget(.batch(key)))
        }
        return commands
    }

    /// The user (or the server) closed a notification.
    public mutating func closed(_ key: NotificationKey) {
        switch key {
        case .transfer(let path):
            transfers[path]?.muted = true
        case .batch(let batchKey):
            batches[batchKey]?.dismissed = true
        }
    }

    /// A new notification server (or the first one): nothing the agent showed exists there.
    /// Running transfers are shown again at the next tick.
    public mutating func serverChanged(_ capabilities: ServerCapabilities) {
        composer.capabilities = capabilities
        for path in transfers.keys {
            transfers[path]?.shown = false
            transfers[path]?.throttle = UpdateThrottle(interval: settings.updateInterval)
        }
        batches = [:]
    }

    /// The daemon left the bus: its running transfers stopped (a retry resumes them), and its
    /// object paths mean nothing to the next daemon process.
    public mutating func daemonVanished() -> [PlannerCommand] {
        var commands: [PlannerCommand] = []
        for path in transfers.keys.sorted() {
            guard let tracked = transfers[path], tracked.shown, !tracked.muted else { continue }
            commands.append(.show(.transfer(path), composer.interrupted(tracked.view, endpointDirectory: directory(of: tracked.view)), takeOver: nil))
            commands.append(.forget(.transfer(path)))
        }
        for key in batches.keys { commands.append(.forget(.batch(key))) }
        transfers = [:]
        batches = [:]
        endpointDirectories = [:]
        return commands
    }

    /// The agent is stopping: running transfers' notifications go, since their buttons would no
    /// longer work; finished ones stay.
    public mutating func shutDown() -> [PlannerCommand] {
        let commands = transfers.keys.sorted().compactMap { path -> PlannerCommand? in
            guard let tracked = transfers[path], tracked.shown, !tracked.muted else { return nil }
            return .close(.transfer(path))
        }
        transfers = [:]
        return commands
    }

    // MARK: Helpers

    private func directory(of view: TransferSnapshot) -> String? {
        view.endpoint.flatMap { endpointDirectories[$0] }
    }

    private func runningContent(_ view: TransferSnapshot) -> NotificationContent {
        composer.running(view, endpointDirectory: directory(of: view))
    }
}
