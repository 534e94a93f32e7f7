import Logging
import S2SCore
import S2SProtocol

/// Every transfer the daemon runs or recently ran, and the events about them.
///
/// Sessions update their `Transfer` directly; ``tick()``, called four times a second by the
/// `PeerService` while a transfer moves, computes rates and publishes what changed since the last
/// tick, so that no transfer produces more than four progress events a second however fast it
/// runs. With nothing moving the loop sleeps until ``activity`` rings or a finished transfer is
/// due to be withdrawn: an idle daemon does not wake. Finished
/// transfers stay on the bus for ``retention``, then their objects are withdrawn; their rows stay
/// in the `TransferStore` (the history, `ListTransferHistory`) for `HistoryRetention=`.
///
/// With a store, numbers come from the database and never repeat (each owner's, `OwnerNumbers`,
/// and the rows'), and every change of state is written there (docs/queue.md).
///
/// Rates, retention and the tick loop's sleeps are measured on an injected ``EngineClock``, so
/// that tests step time instead of waiting for it.
actor TransferRegistry {
    /// How often progress is published.
    static let tickInterval: Duration = .milliseconds(250)
    /// How long a finished transfer stays on the bus (as "recent").
    static let retention: Duration = .seconds(900)
    /// The most finished transfers kept, however recent.
    static let maxFinished = 1000

    private struct Entry {
        let transfer: Transfer
        /// What subscribers were last told (nil: not announced yet).
        var published: Transfer.Progress?
        /// Recent (time, bytes) samples for the rate.
        var samples: [(at: ContinuousClock.Instant, bytes: UInt64)] = []
        var finishedAt: ContinuousClock.Instant?
    }

    private static let rateWindow = 8

    private var entries: [Int64: Entry] = [:]
    /// Incoming transfers their sender paused (CANCEL(paused)), by number: where and under which
    /// token the sender's next session continues them.
    private var pausedIncoming: [Int64: (endpoint: Int64, token: TransferToken)] = [:]
    /// Tokens of paused incoming transfers their receiver cancelled, by endpoint: the sender's
    /// next session with one is told CANCEL(cancelled) (in memory: after a restart it starts over).
    private var cancelledWhilePaused: [Int64: Set<TransferToken>] = [:]
    private var nextNumber: Int64 = 1
    /// Each owner's last number: the store's, or without one (or when it fails) this registry's.
    private var lastOwnerNumbers: [UInt32: Int64] = [:]
    private let events: EngineEventSink
    /// nil: numbers and history in memory only (unit tests).
    let store: TransferStore?
    private let logger: Logger
    /// The daemon-wide rate limits every transfer's own limiter pays into.
    private let bandwidth: Bandwidth
    /// Rings when a transfer is added or changes state, to wake the tick loop.
    nonisolated let activity: Doorbell
    /// What rates, retention and the tick loop's deadlines are measured on.
    nonisolated let clock: any EngineClock

    init(
        events: EngineEventSink = .none, store: TransferStore? = nil, bandwidth: Bandwidth = Bandwidth(),
        clock: any EngineClock = SystemClock(), logger: Logger = Logger(label: "s2s.transfers")
    ) {
        self.clock = clock
        activity = Doorbell(clock: clock)
        self.events = events
        self.store = store
        self.bandwidth = bandwidth
        self.logger = logger
        if let last = try? store?.lastNumber() { nextNumber = last + 1 }
        if let last = try? store?.lastOwnerNumbers() { lastOwnerNumbers = last }
    }

    // MARK: Transfers

    /// Creates, records and announces a transfer.
    func start(
        direction: Transfer.Direction, owner: UInt32, route: String = "direct", endpoint: Endpoint? = nil, destination: String = "",
        sources: [String] = [], names: [String] = [], digestAlgorithm: String, initialState: Transfer.State,
        rateLimit: UInt64 = 0, removeSource: Bool = false
    ) async -> Transfer {
        var number = nextNumber
        var ownerNumber = (lastOwnerNumbers[owner] ?? 0) + 1
        let draft = Transfer(
            number: 0, direction: direction, owner: owner, route: route, endpoint: endpoint, destination: destination,
            sources: sources, names: names, digestAlgorithm: digestAlgorithm, initialState: initialState)
        if let store {
            do {
                let inserted = try store.insert(draft.record())
                number = inserted.number
                ownerNumber = inserted.ownerNumber
            } catch {
                // The transfer runs anyway; it is missing from the history.
                logger.error("cannot record a transfer", metadata: ["error": "\(error)"])
            }
        }
        nextNumber = max(nextNumber, number + 1)
        let transfer = Transfer(
            number: number, ownerNumber: ownerNumber, direction: direction, owner: owner, route: route, endpoint: endpoint,
            destination: destination, sources: sources, names: names, digestAlgorithm: digestAlgorithm, initialState: initialState,
            createdTimestamp: draft.createdTimestamp, rateLimit: rateLimit, sharedLimit: bandwidth.shared(for: direction),
            removeSource: removeSource)
        await register(transfer)
        return transfer
    }

    /// Announces a transfer created elsewhere (a queued send, whose row the queue wrote).
    func register(_ transfer: Transfer) async {
        noteNumbers(of: transfer)
        entries[transfer.number] = Entry(transfer: transfer, published: transfer.snapshot)
        activity.ring()
        events.emit(.transferAdded(transfer))
    }

    /// Puts finished transfers from the store back on the bus after a restart (no signal: they
    /// are not news), as if they had finished `finishedTimestamp` ago.
    func restoreFinished(_ records: [TransferStore.Record], now: UInt64) {
        for record in records where entries[record.number] == nil {
            let age = now > record.progress.finishedTimestamp ? now - record.progress.finishedTimestamp : 0
            let transfer = Transfer(record: record)
            entries[record.number] = Entry(
                transfer: transfer, published: transfer.snapshot,
                finishedAt: clock.now - .microseconds(Int64(clamping: age)))
            noteNumbers(of: transfer)
        }
    }

    /// Keeps the numbers a transfer took from being given again.
    private func noteNumbers(of transfer: Transfer) {
        nextNumber = max(nextNumber, transfer.number + 1)
        lastOwnerNumbers[transfer.owner] = max(lastOwnerNumbers[transfer.owner] ?? 0, transfer.ownerNumber)
    }

    /// Writes a transfer's state to the store now.
    func persist(_ transfer: Transfer) {
        guard let store else { return }
        do {
            try store.update(number: transfer.number, transfer.snapshot)
        } catch {
            logger.error("cannot record a transfer's state", metadata: ["transfer": "\(transfer.objectNumber)", "error": "\(error)"])
        }
    }

    /// Publishes a transfer's end at once (without waiting for the next tick), after writing it
    /// to the store.
    func finished(_ transfer: Transfer) async {
        guard var entry = entries[transfer.number], entry.finishedAt == nil else { return }
        entry.finishedAt = clock.now
        let progress = transfer.snapshot
        let before = entry.published
        entry.published = progress
        entries[transfer.number] = entry
        activity.ring()
        persist(transfer)
        events.emit(.transferFinished(transfer, now: progress, before: before))
    }

    /// Publishes a change at once (a queued send paused, resumed, waiting for its next attempt).
    func changed(_ transfer: Transfer) async {
        guard var entry = entries[transfer.number], entry.finishedAt == nil else { return }
        let progress = transfer.snapshot
        let before = entry.published
        entry.published = progress
        entries[transfer.number] = entry
        activity.ring()
        events.emit(.transferChanged(transfer, now: progress, before: before))
    }

    /// Forgets the finished transfers in `scope` that belong to `owner` (nil: all in scope): the
    /// rows, and the objects of recent ones. Returns how many rows went.
    func clearFinished(owner: UInt32?) async throws -> Int {
        let numbers = try store?.clearFinished(owner: owner) ?? []
        var removed: [Transfer] = []
        for (number, entry) in entries where entry.finishedAt != nil && (owner == nil || entry.transfer.owner == owner) {
            entries[number] = nil
            removed.append(entry.transfer)
        }
        for transfer in removed.sorted(by: { $0.number < $1.number }) { events.emit(.transferRemoved(transfer)) }
        return store == nil ? removed.count : numbers.count
    }

    /// The whole history in `scope`: running transfers, and every finished one the store keeps.
    func history(in scope: Scope) throws -> [Transfer] {
        var byNumber: [Int64: Transfer] = [:]
        let owner: UInt32? = if case .owner(let uid) = scope { uid } else { nil }
        for record in try store?.finished(owner: owner) ?? [] { byNumber[record.number] = Transfer(record: record) }
        for transfer in transfers(in: scope) { byNumber[transfer.number] = transfer }
        return byNumber.values.sorted { $0.number < $1.number }
    }

    /// The transfers in `scope` (see `Authorization`), by number.
    func transfers(in scope: Scope) -> [Transfer] {
        entries.values.map(\.transfer).filter { $0.isVisible(in: scope) }.sorted { $0.number < $1.number }
    }

    /// The transfer with this (row) number, whoever owns it: the caller decides who may see it.
    func transfer(number: Int64) -> Transfer? {
        entries[number]?.transfer
    }

    /// The transfer the bus and the journal name `object`, whoever owns it.
    func transfer(_ object: ObjectNumber) -> Transfer? {
        entries.values.first { $0.transfer.owner == object.owner && $0.transfer.ownerNumber == object.number }?.transfer
    }

    /// Transfers that have not finished (a paused one included: the daemon holds it).
    var activeCount: Int { entries.values.filter { !$0.transfer.snapshot.state.isFinished }.count }

    /// Whether `transfer` is an incoming transfer with a session running: neither finished nor
    /// paused by its sender.
    private static func receiving(_ transfer: Transfer) -> Bool {
        let state = transfer.snapshot.state
        return transfer.direction == .receive && !state.isFinished && state != .paused
    }

    /// Incoming transfers running into `endpoint`.
    func activeIncoming(endpoint number: Int64) -> Int {
        entries.values.filter { Self.receiving($0.transfer) && $0.transfer.endpoint?.number == number }.count
    }

    /// Bytes that running transfers into `endpoint` may still deliver (offered, not yet
    /// confirmed), for the quota check of a new offer. A paused one reserves nothing: its
    /// sender's next session asks again.
    func reservedIncoming(endpoint number: Int64) -> UInt64 {
        entries.values.reduce(0) { sum, entry in
            let transfer = entry.transfer
            guard Self.receiving(transfer), transfer.endpoint?.number == number else { return sum }
            let progress = transfer.snapshot
            return sum &+ (progress.bytesTotal &- progress.bytesConfirmed)
        }
    }

    var activeIncomingCount: Int {
        entries.values.filter { Self.receiving($0.transfer) }.count
    }

    /// Asks every running transfer into `endpoint` to cancel, and ends the paused ones (the
    /// endpoint is being deleted).
    func cancelIncoming(endpoint number: Int64) async {
        for entry in entries.values where entry.transfer.endpoint?.number == number {
            _ = entry.transfer.requestCancel(.endpointGone)
        }
        for paused in pausedIncoming.filter({ $0.value.endpoint == number }).keys {
            guard let (transfer, _) = removePaused(paused) else { continue }
            transfer.finish(.cancelled, error: "the endpoint was deleted")
            await finished(transfer)
        }
    }

    // MARK: Incoming transfers paused by their sender

    /// Shows an incoming transfer as paused by its sender, whose next session with `token` into
    /// `endpoint` continues it (``resumePaused(endpoint:token:)``).
    func pauseIncoming(_ transfer: Transfer, endpoint: Int64, token: TransferToken) async {
        guard entries[transfer.number] != nil else { return }
        transfer.update {
            $0.state = .paused
            $0.rate = 0
            $0.currentFile = ""
        }
        pausedIncoming[transfer.number] = (endpoint, token)
        persist(transfer)
        await changed(transfer)
    }

    /// The paused incoming transfer that a new session with `token` into `endpoint` continues,
    /// back in state receiving; nil if there is none.
    func resumePaused(endpoint: Int64, token: TransferToken) async -> Transfer? {
        guard let transfer = removePaused(endpoint: endpoint, token: token) else { return nil }
        transfer.update { $0.state = .receiving }
        persist(transfer)
        await changed(transfer)
        return transfer
    }

    /// Takes the paused incoming transfer `transfer` out of the paused ones for its receiver's
    /// Cancel, and remembers its token as cancelled; returns where and under which token it
    /// waited, or nil if it is not paused.
    func takePaused(_ transfer: Transfer) -> (endpoint: Int64, token: TransferToken)? {
        guard let (_, place) = removePaused(transfer.number) else { return nil }
        cancelledWhilePaused[place.endpoint, default: []].insert(place.token)
        return place
    }

    /// Whether the receiver cancelled the paused transfer whose sender now comes back with
    /// `token`; forgets it (the session ends it).
    func takeCancelledWhilePaused(endpoint: Int64, token: TransferToken) -> Bool {
        cancelledWhilePaused[endpoint]?.remove(token) != nil
    }

    /// Ends the paused incoming transfer waiting with `token` in `endpoint` (its resume records
    /// expired: the sender did not come back within ResumeRetention=).
    func expirePaused(endpoint: Int64, token: TransferToken, reason: String) async {
        guard let transfer = removePaused(endpoint: endpoint, token: token) else { return }
        transfer.finish(.failed, error: reason)
        await finished(transfer)
    }

    /// Takes the incoming transfer paused with `token` in `endpoint` out of the paused ones.
    private func removePaused(endpoint: Int64, token: TransferToken) -> Transfer? {
        guard let number = pausedIncoming.first(where: { $0.value.endpoint == endpoint && $0.value.token == token })?.key else {
            return nil
        }
        return removePaused(number)?.0
    }

    /// Takes transfer `number` out of the paused ones: it, and where it waited, if it still
    /// waits (not finished meanwhile).
    private func removePaused(_ number: Int64) -> (Transfer, (endpoint: Int64, token: TransferToken))? {
        guard let place = pausedIncoming.removeValue(forKey: number), let entry = entries[number], entry.finishedAt == nil,
            entry.transfer.snapshot.state == .paused
        else { return nil }
        return (entry.transfer, place)
    }

    /// Every running transfer.
    func allActive() -> [Transfer] {
        entries.values.map(\.transfer).filter { !$0.snapshot.state.isFinished }
    }

    // MARK: Publishing

    /// Computes rates, publishes changes, withdraws expired finished transfers, as of
    /// ``clock``'s now. Returns when it wants to run again: in ``tickInterval`` while a transfer
    /// moves, else when the next finished transfer is due to be withdrawn (nil: none).
    @discardableResult
    func tick() async -> Duration? {
        let now = clock.now
        var expired: [Transfer] = []
        let finishedCount = entries.values.filter { $0.finishedAt != nil }.count
        var overflow = max(0, finishedCount - Self.maxFinished)
        for number in entries.keys.sorted() {
            guard var entry = entries[number] else { continue }
            if let finishedAt = entry.finishedAt {
                if now - finishedAt >= Self.retention || overflow > 0 {
                    overflow -= 1
                    entries[number] = nil
                    expired.append(entry.transfer)
                }
                continue
            }
            let bytes = entry.transfer.snapshot.bytesDone
            if !Self.moves(entry.transfer.snapshot.state) {
                // Waiting: no rate, and no samples for the next attempt's rate to start from.
                entry.samples = []
                entry.transfer.update { $0.rate = 0 }
            } else {
                // A new attempt starts its count again from what the receiver holds, which may be
                // less than the last attempt reached: the rate starts over too.
                if let last = entry.samples.last, bytes < last.bytes { entry.samples = [] }
                entry.samples.append((now, bytes))
                if entry.samples.count > Self.rateWindow { entry.samples.removeFirst(entry.samples.count - Self.rateWindow) }
            }
            if let first = entry.samples.first, now > first.at {
                let seconds = (now - first.at) / .seconds(1)
                let rate = seconds > 0 ? Double(bytes - first.bytes) / seconds : 0
                entry.transfer.update { $0.rate = rate.isFinite && rate > 0 ? UInt64(exactly: rate.rounded(.down)) ?? .max : 0 }
            }
            let progress = entry.transfer.snapshot
            if progress.state.isFinished {
                entries[number] = entry
                await finished(entry.transfer)
                continue
            }
            if progress != entry.published {
                if progress.state != entry.published?.state { persist(entry.transfer) }
                let before = entry.published
                entry.published = progress
                entries[number] = entry
                events.emit(.transferChanged(entry.transfer, now: progress, before: before))
            } else {
                entries[number] = entry
            }
        }
        for transfer in expired { events.emit(.transferRemoved(transfer)) }
        return nextTick(now: now)
    }

    /// Whether a transfer in `state` moves bytes, so that the tick loop must run. Queued and paused
    /// sends do not: what changes them (an attempt starting, `Pause`, `Resume`) publishes at once
    /// and rings ``activity``.
    private static func moves(_ state: Transfer.State) -> Bool {
        !state.isFinished && state != .queued && state != .paused
    }

    /// See ``tick()``.
    private func nextTick(now: ContinuousClock.Instant) -> Duration? {
        var withdrawal: ContinuousClock.Instant?
        for entry in entries.values {
            if let finishedAt = entry.finishedAt {
                withdrawal = min(withdrawal ?? finishedAt + Self.retention, finishedAt + Self.retention)
                continue
            }
            if Self.moves(entry.transfer.snapshot.state) { return Self.tickInterval }
        }
        return withdrawal.map { max(.zero, $0 - now) }
    }

    /// Tells the front-ends that an endpoint's counters or remaining uses changed.
    func endpointChanged(_ endpoint: Endpoint) {
        events.emit(.endpointCountersChanged(endpoint))
    }
}
