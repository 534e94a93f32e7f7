import S2SBus
import S2SCore

/// Every transfer the daemon runs or recently ran, and the signals about them.
///
/// Sessions update their `Transfer` directly; ``tick(now:)``, called four times a second by the
/// `TransferService`, computes rates and publishes what changed since the last tick, so that no
/// transfer produces more than four progress signals a second however fast it runs. Finished
/// transfers stay listed for ``retention``, then their objects are withdrawn.
actor TransferRegistry {
    /// How often progress is published.
    static let tickInterval: Duration = .milliseconds(250)
    /// How long a finished transfer stays on the bus.
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
    private var nextNumber: Int64 = 1
    private let signals: SignalBroadcaster?
    /// The daemon-wide rate limits every transfer's own limiter pays into.
    private let bandwidth: Bandwidth

    /// `signals` nil: no bus (unit tests).
    init(signals: SignalBroadcaster?, bandwidth: Bandwidth = Bandwidth()) {
        self.signals = signals
        self.bandwidth = bandwidth
    }

    // MARK: Transfers

    /// Creates and announces a transfer.
    func start(
        direction: Transfer.Direction, owner: UInt32, route: String = "direct", endpoint: Endpoint? = nil, destination: String = "",
        sources: [String] = [], names: [String] = [], digestAlgorithm: String, initialState: Transfer.State,
        rateLimit: UInt64 = 0, removeSource: Bool = false
    ) async -> Transfer {
        let transfer = Transfer(
            number: nextNumber, direction: direction, owner: owner, route: route, endpoint: endpoint, destination: destination,
            sources: sources, names: names, digestAlgorithm: digestAlgorithm, initialState: initialState, rateLimit: rateLimit,
            sharedLimit: bandwidth.shared(for: direction), removeSource: removeSource)
        nextNumber += 1
        entries[transfer.number] = Entry(transfer: transfer, published: transfer.snapshot)
        await announceAdded(transfer)
        return transfer
    }

    /// Publishes a transfer's end at once (without waiting for the next tick).
    func finished(_ transfer: Transfer) async {
        guard var entry = entries[transfer.number], entry.finishedAt == nil else { return }
        entry.finishedAt = .now
        let progress = transfer.snapshot
        entry.published = progress
        entries[transfer.number] = entry
        await announceChange(transfer, progress: progress)
        await announceFinished(transfer, progress: progress)
    }

    /// The transfers in `scope` (see `Authorization`), by number.
    func transfers(in scope: Scope) -> [Transfer] {
        entries.values.map(\.transfer).filter { $0.isVisible(in: scope) }.sorted { $0.number < $1.number }
    }

    /// The transfer with this number, whoever owns it: the caller decides who may see it.
    func transfer(number: Int64) -> Transfer? {
        entries[number]?.transfer
    }

    /// Transfers that have not finished.
    var activeCount: Int { entries.values.filter { !$0.transfer.snapshot.state.isFinished }.count }

    /// Incoming transfers running into `endpoint`.
    func activeIncoming(endpoint number: Int64) -> Int {
        entries.values.filter {
            $0.transfer.direction == .receive && $0.transfer.endpoint?.number == number && !$0.transfer.snapshot.state.isFinished
        }.count
    }

    /// Bytes that running transfers into `endpoint` may still deliver (offered, not yet
    /// confirmed), for the quota check of a new offer.
    func reservedIncoming(endpoint number: Int64) -> UInt64 {
        entries.values.reduce(0) { sum, entry in
            let transfer = entry.transfer
            guard transfer.direction == .receive, transfer.endpoint?.number == number else { return sum }
            let progress = transfer.snapshot
            guard !progress.state.isFinished else { return sum }
            return sum &+ (progress.bytesTotal &- progress.bytesConfirmed)
        }
    }

    var activeIncomingCount: Int {
        entries.values.filter { $0.transfer.direction == .receive && !$0.transfer.snapshot.state.isFinished }.count
    }

    /// Asks every running transfer into `endpoint` to cancel (the endpoint is being deleted).
    func cancelIncoming(endpoint number: Int64) {
        for entry in entries.values where entry.transfer.endpoint?.number == number {
            _ = entry.transfer.requestCancel(.endpointGone)
        }
    }

    /// Every running transfer.
    func allActive() -> [Transfer] {
        entries.values.map(\.transfer).filter { !$0.snapshot.state.isFinished }
    }

    // MARK: Publishing

    /// Computes rates, publishes changes, withdraws expired finished transfers.
    func tick(now: ContinuousClock.Instant) async {
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
            entry.samples.append((now, bytes))
            if entry.samples.count > Self.rateWindow { entry.samples.removeFirst(entry.samples.count - Self.rateWindow) }
            if let first = entry.samples.first, now > first.at {
                let seconds = (now - first.at) / .seconds(1)
                let rate = seconds > 0 ? Double(bytes &- first.bytes) / seconds : 0
                entry.transfer.update { $0.rate = rate.isFinite && rate > 0 ? UInt64(rate) : 0 }
            }
            let progress = entry.transfer.snapshot
            if progress.state.isFinished {
                entries[number] = entry
                await finished(entry.transfer)
                continue
            }
            if progress != entry.published {
                entry.published = progress
                entries[number] = entry
                await announceChange(entry.transfer, progress: progress)
            } else {
                entries[number] = entry
            }
        }
        for transfer in expired { await announceRemoved(transfer) }
    }

    /// Tells the endpoint's subscribers that its counters or remaining uses changed.
    func endpointChanged(_ endpoint: Endpoint) async {
        guard let signals else { return }
        let changed = endpoint.properties.filter { ["RemainingUses", "BytesReceived", "FilesReceived"].contains($0.key) }
        await signals.send(aboutObjectOf: endpoint.owner) { subscriber in
            try ObjectServer.propertiesChanged(
                at: endpoint.objectPath, interface: DaemonAPI.endpointInterface, changed: changed,
                destination: subscriber.uniqueName)
        }
    }

    private func announceAdded(_ transfer: Transfer) async {
        guard let signals else { return }
        let object = TransferObject(transfer: transfer)
        await signals.send(aboutObjectOf: transfer.owner) { subscriber in
            try await ObjectServer.interfacesAdded(
                managerPath: Manager.rootPath, objectPath: transfer.objectPath, object: object, caller: subscriber,
                destination: subscriber.uniqueName)
        }
        await signals.send(aboutObjectOf: transfer.owner) { subscriber in
            try Message.signal(
                path: Manager.rootPath, interface: DaemonAPI.managerInterface, member: "TransferAdded",
                body: [.objectPath(transfer.objectPath), .vardict(transfer.properties)], destination: subscriber.uniqueName)
        }
    }

    private func announceChange(_ transfer: Transfer, progress: Transfer.Progress) async {
        guard let signals else { return }
        let changed = transfer.properties.filter { Transfer.changingProperties.contains($0.key) }
        await signals.send(aboutObjectOf: transfer.owner) { subscriber in
            try ObjectServer.propertiesChanged(
                at: transfer.objectPath, interface: DaemonAPI.transferInterface, changed: changed,
                destination: subscriber.uniqueName)
        }
        guard !progress.state.isFinished else { return }
        await signals.send(aboutObjectOf: transfer.owner) { subscriber in
            try Message.signal(
                path: Manager.rootPath, interface: DaemonAPI.managerInterface, member: "TransferProgress",
                body: [
                    .objectPath(transfer.objectPath), .string(progress.state.rawValue), .uint64(progress.bytesDone),
                    .uint64(progress.bytesTotal), .uint64(progress.filesDone), .uint64(progress.filesTotal),
                    .uint64(progress.rate), .string(progress.currentFile),
                ],
                destination: subscriber.uniqueName)
        }
    }

    private func announceFinished(_ transfer: Transfer, progress: Transfer.Progress) async {
        guard let signals else { return }
        await signals.send(aboutObjectOf: transfer.owner) { subscriber in
            try Message.signal(
                path: transfer.objectPath, interface: DaemonAPI.transferInterface, member: "Completed",
                body: [.string(progress.state.rawValue), .string(progress.error)], destination: subscriber.uniqueName)
        }
        await signals.send(aboutObjectOf: transfer.owner) { subscriber in
            try Message.signal(
                path: Manager.rootPath, interface: DaemonAPI.managerInterface, member: "TransferFinished",
                body: [.objectPath(transfer.objectPath), .string(progress.state.rawValue), .string(progress.error)],
                destination: subscriber.uniqueName)
        }
    }

    private func announceRemoved(_ transfer: Transfer) async {
        guard let signals else { return }
        await signals.send(aboutObjectOf: transfer.owner) { subscriber in
            try ObjectServer.interfacesRemoved(
                managerPath: Manager.rootPath, objectPath: transfer.objectPath, interfaces: [DaemonAPI.transferInterface],
                destination: subscriber.uniqueName)
        }
    }
}
