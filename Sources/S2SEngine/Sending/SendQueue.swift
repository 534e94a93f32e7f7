import FoundationEssentials
import Logging
import S2SCore
import S2SProtocol

/// The persistent queue of outgoing transfers (docs/queue.md).
///
/// Every `Send` becomes a row of the `TransferStore` before the call returns; the queue starts
/// sends within `MaxActiveSends=` and `MaxActiveSendsPerDestination=` in priority order
/// (`SendScheduler`), runs each attempt as the sending user (the sources are scanned again each
/// time, with that user's rights), and after a passing failure plans the next attempt
/// (`RetryPolicy`). Each change of state is written to the store before it takes effect, and the
/// token of an unfinished send stays in the `SendTokenStore`, so that a daemon killed at any
/// instant restarts into the same queue (``restore()``) and resumes from the receiver's data.
actor SendQueue {
    /// A send that has not finished.
    private struct Job {
        let transfer: Transfer
        let destination: Destination
        let options: SendOptions
        let tokenKey: Data
        /// Consecutive failed attempts, and consecutive handshakes the receiver closed.
        var failures: UInt32 = 0
        var rejections: UInt32 = 0
        var running = false
        /// The tree scanned when the send was added, until the queue either starts its first
        /// attempt at once (which takes it instead of scanning again) or makes it wait.
        var scanned: SourceTree?
    }

    private var jobs: [Int64: Job] = [:]
    private let registry: TransferRegistry
    private let store: TransferStore
    private let tokens: SendTokenStore
    /// Which endpoints take AES-GCM, learnt from their receivers' HELLOs.
    private let ciphers: CipherMemory
    private let service: TransferService
    private let limits: LiveLimits
    private let configuration: Configuration
    private let policy: RetryPolicy
    private let logger: Logger
    /// When the service's loop runs ``schedule()`` next by itself (microseconds since the epoch;
    /// nil: only when rung).
    private var serviceWakesAt: UInt64?
    /// Rings when a waiting send becomes due before the service's loop would wake.
    nonisolated let retryDue = Doorbell()

    init(
        registry: TransferRegistry, store: TransferStore, tokens: SendTokenStore, service: TransferService, limits: LiveLimits,
        configuration: Configuration, policy: RetryPolicy = RetryPolicy(), ciphers: CipherMemory = CipherMemory(), logger: Logger
    ) {
        self.registry = registry
        self.ciphers = ciphers
        self.store = store
        self.tokens = tokens
        self.service = service
        self.limits = limits
        self.configuration = configuration
        self.policy = policy
        self.logger = logger
    }

    // MARK: Adding

    /// Records a new send (already checked and scanned by the caller) and queues it; returns its
    /// transfer, announced on the bus.
    func add(
        owner: UInt32, sources: [String], destination: Destination, options: SendOptions, tree: SourceTree, tokenKey: Data
    ) async throws(EngineError) -> Transfer {
        let queued = jobs.values.reduce(0) { $0 + ($1.transfer.owner == owner ? 1 : 0) }
        let limit = limits.current.maxQueuedSendsPerUser
        guard queued < limit else {
            throw .limitExceeded(
                "you have \(queued) sends queued or running, the most this daemon allows (MaxQueuedSendsPerUser=\(limit)); wait for some to finish")
        }
        var record = TransferStore.Record(
            direction: .send, owner: owner, route: options.punch != nil ? "punched" : destination.route == .relay ? "relay" : "direct",
            destination: destination.description, sources: sources, names: Transfer.topLevelNames(tree.entries),
            digestAlgorithm: "\(options.digest)", options: options, tokenKey: tokenKey,
            progress: Transfer.Progress(state: .queued), created: Clock.nowMicroseconds)
        record.progress.bytesTotal = tree.totalBytes
        record.progress.filesTotal = UInt64(tree.fileCount)
        do {
            let inserted = try store.insert(record)
            record.number = inserted.number
            record.ownerNumber = inserted.ownerNumber
        } catch {
            throw .failed("cannot record the transfer: \(error)")
        }
        let transfer = Transfer(record: record, sharedLimit: limits.bandwidth.upload)
        jobs[transfer.number] = Job(transfer: transfer, destination: destination, options: options, tokenKey: tokenKey, scanned: tree)
        await registry.register(transfer)
        schedule()
        // A send that waits is scanned again when it starts: its files may change meanwhile, and
        // a queue of large trees would hold every one of them.
        jobs[transfer.number]?.scanned = nil
        return transfer
    }

    /// Queues again the sends a previous run of the daemon left unfinished, and closes the
    /// incoming transfers it left: they ended with that daemon (their senders will retry).
    func restore() async {
        let records: [TransferStore.Record]
        do {
            records = try store.unfinished()
            await registry.restoreFinished(
                try store.finished(owner: nil, after: Clock.nowMicroseconds &- UInt64(TransferRegistry.retention.components.seconds) * 1_000_000),
                now: Clock.nowMicroseconds)
        } catch {
            logger.error("cannot read the transfer queue", metadata: ["error": "\(error)"])
            return
        }
        for var record in records {
            if record.direction == .receive || record.options == nil || record.tokenKey == nil {
                // An incoming transfer paused by its sender ends here too: the partial data and
                // the token stay, so its sender's next session resumes, as a new transfer.
                record.progress.error =
                    record.progress.state == .paused
                    ? "paused by its sender when the daemon stopped; when it resumes, it arrives as a new transfer"
                    : "interrupted: the daemon stopped"
                record.progress.state = .failed
                record.progress.finishedTimestamp = Clock.nowMicroseconds
                try? store.update(number: record.number, record.progress)
                continue
            }
            let transfer = Transfer(record: record, sharedLimit: limits.bandwidth.upload)
            let destination: Destination
            do {
                destination = try Destination(parsing: record.destination, hasRelays: !configuration.relays.isEmpty)
            } catch {
                transfer.finish(.failed, error: "cannot send to \(record.destination) any more: \(error)")
                await registry.register(transfer)
                await registry.finished(transfer)
                continue
            }
            if record.progress.state != .paused {
                let wasRunning = record.progress.state != .queued
                transfer.update {
                    $0.state = .queued
                    if wasRunning { $0.lastError = "the daemon stopped during attempt \($0.attempts)" }
                    $0.nextAttempt = 0
                    $0.rate = 0
                    $0.currentFile = ""
                }
            }
            jobs[record.number] = Job(
                transfer: transfer, destination: destination, options: record.options ?? SendOptions(), tokenKey: record.tokenKey ?? Data())
            await registry.register(transfer)
            await registry.persist(transfer)
        }
        if !jobs.isEmpty { logger.info("send queue restored", metadata: ["transfers": "\(jobs.count)"]) }
        schedule()
    }

    // MARK: Scheduling

    /// The service's turn (`SendQueueService`): starts what is due and returns how long its loop
    /// may sleep: until the next retry time (nil: none), unless ``retryDue`` rings first.
    func scheduleForService() -> Duration? {
        serviceWakesAt = 0  // awake: schedule() need not ring
        let next = schedule()
        serviceWakesAt = next
        guard let next else { return nil }
        let now = Clock.nowMicroseconds
        return .microseconds(Int64(clamping: next > now ? next - now : 0)) + .milliseconds(1)
    }

    /// Starts every send the limits allow now. Returns the next time a waiting send becomes due
    /// (microseconds since the epoch; nil: none waits for a time), and rings ``retryDue`` if that
    /// is before the service's loop would wake. Adding, ending, resuming a send and `SetLimits`
    /// call it at once, so the loop only has retry times to wait for.
    @discardableResult
    func schedule() -> UInt64? {
        let limits = self.limits.current
        let now = Clock.nowMicroseconds
        var candidates: [SendScheduler.Candidate] = []
        var active: [SendScheduler.Running] = []
        for job in jobs.values {
            if job.running {
                active.append(.init(owner: job.transfer.owner, destination: job.destination.id.text, tokenKey: Array(job.tokenKey)))
                continue
            }
            let progress = job.transfer.snapshot
            guard progress.state == .queued else { continue }
            candidates.append(
                SendScheduler.Candidate(
                    number: job.transfer.number, owner: job.transfer.owner, priority: job.transfer.priority,
                    destination: job.destination.id.text,
                    tokenKey: Array(job.tokenKey), notBefore: progress.nextAttempt))
        }
        let picked = SendScheduler.pick(
            candidates, active: active,
            limits: .init(
                maxActive: limits.maxActiveSends, maxPerUser: limits.maxActiveSendsPerUser,
                maxPerDestination: limits.maxActiveSendsPerDestination),
            now: now)
        let next = candidates.lazy.map(\.notBefore).filter { $0 > now }.min()
        if let next, next < serviceWakesAt ?? .max {
            serviceWakesAt = next
            retryDue.ring()
        }
        for number in picked {
            guard var job = jobs[number] else { continue }
            job.running = true
            let scanned = job.scanned
            job.scanned = nil
            jobs[number] = job
            job.transfer.update {
                $0.state = .connecting
                $0.attempts &+= 1
                $0.nextAttempt = 0
            }
            let transfer = job.transfer
            let attempt = SendAttempt(
                transfer: transfer, destination: job.destination, options: job.options, tokenKey: job.tokenKey, scanned: scanned,
                tokens: tokens, ciphers: ciphers, configuration: configuration, logger: logger)
            service.submit { [self] in
                await registry.persist(transfer)
                await registry.changed(transfer)
                let before = transfer.snapshot.bytesDone
                let outcome = await attempt.run()
                // The daemon is stopping: whatever broke the attempt, the row keeps its running
                // state and the next start queues it again (restore()).
                if Task.isCancelled && outcome != .done { return }
                await ended(number, outcome, progressed: transfer.snapshot.bytesDone > before)
            }
        }
        return next
    }

    /// What happens after an attempt: the end of the send, or its next attempt.
    private func ended(_ number: Int64, _ outcome: SendOutcome, progressed: Bool) async {
        guard var job = jobs[number] else { return }
        job.running = false
        let transfer = job.transfer
        var outcome = outcome
        if let code = transfer.cancelRequest, outcome != .done {
            outcome = .cancelled(code == .cancelled ? "cancelled" : "cancelled: \(code)")
        }
        switch outcome {
        case .done:
            await conclude(job, .done, error: "")
        case .failed(let reason):
            await conclude(job, .failed, error: reason)
        case .cancelled(let reason):
            await conclude(job, .cancelled, error: reason)
        case .retry(let reason, let rejected):
            if transfer.pauseRequested {
                transfer.update {
                    $0.state = .paused
                    $0.nextAttempt = 0
                    $0.rate = 0
                    $0.currentFile = ""
                }
                job.failures = 0
                job.rejections = 0
                jobs[number] = job
                logger.info("transfer paused", metadata: ["transfer": "\(transfer.objectNumber)"])
                await registry.persist(transfer)
                await registry.changed(transfer)
                break
            }
            job.failures = progressed ? 1 : job.failures &+ 1
            job.rejections = rejected ? job.rejections &+ 1 : 0
            let now = Clock.nowMicroseconds
            let retryFor = job.options.retryFor ?? UInt64(configuration.retryFor.components.seconds)
            let deadline = transfer.createdTimestamp &+ retryFor &* 1_000_000
            let decision = policy.decide(
                failures: job.failures, attempts: transfer.snapshot.attempts, rejections: job.rejections,
                maxAttempts: job.options.maxAttempts, deadline: deadline, now: now, jitter: Double.random(in: 0...1))
            switch decision {
            case .retry(let at):
                transfer.update {
                    $0.state = .queued
                    $0.nextAttempt = at
                    $0.lastError = reason
                    $0.rate = 0
                    $0.currentFile = ""
                }
                jobs[number] = job
                logger.notice(
                    "transfer waits for its next attempt",
                    metadata: ["transfer": "\(transfer.objectNumber)", "reason": "\(reason)", "in_ms": "\((at &- now) / 1000)"])
                await registry.persist(transfer)
                await registry.changed(transfer)
            case .giveUp(let why):
                transfer.update { $0.lastError = reason }
                // The token stays: sending the same files to the same destination again resumes.
                // An unknown endpoint is one sentence; other limits say what failed last, and how
                // to resume.
                let error = rejected ? why : "\(reason); \(why); sending the same files to the same destination again resumes the transfer"
                await conclude(job, .failed, error: error, keepToken: !rejected)
            }
        }
        schedule()
    }

    /// Ends a send for good: the row first, then the token, so that a daemon killed in between
    /// never sends again with a new token what the receiver already holds.
    private func conclude(_ job: Job, _ state: Transfer.State, error: String, keepToken: Bool = false) async {
        jobs[job.transfer.number] = nil
        job.transfer.update { $0.nextAttempt = 0 }
        job.transfer.finish(state, error: error)
        await registry.finished(job.transfer)
        guard !keepToken, !jobs.values.contains(where: { $0.tokenKey == job.tokenKey }) else { return }
        do {
            try tokens.forget(key: job.tokenKey)
        } catch {
            logger.warning("cannot forget a transfer token", metadata: ["error": "\(error)"])
        }
    }

    // MARK: Control

    /// Pauses a send: a waiting one stays out of the schedule, a running one is disconnected
    /// without CANCEL (the receiver keeps its data) and becomes paused when its attempt ends.
    func pause(_ transfer: Transfer) async throws(EngineError) {
        guard let job = jobs[transfer.number] else { throw Self.notInQueue(transfer) }
        let state = transfer.snapshot.state
        guard state != .paused, !transfer.pauseRequested else { throw .invalidArgument("the transfer is already paused") }
        if job.running {
            transfer.requestPause()
            return
        }
        transfer.requestPause()
        transfer.update {
            $0.state = .paused
            $0.nextAttempt = 0
        }
        await registry.persist(transfer)
        await registry.changed(transfer)
    }

    /// Changes a send's own limit, whether it runs or waits, and records it: the send keeps it
    /// after a restart.
    func setRateLimit(_ transfer: Transfer, _ bytesPerSecond: UInt64) async throws(EngineError) {
        guard jobs[transfer.number] != nil else { throw Self.notInQueue(transfer) }
        transfer.setRateLimit(bytesPerSecond)
        await registry.persist(transfer)
    }

    /// Queues a paused send again, for an attempt at once.
    func resume(_ transfer: Transfer) async throws(EngineError) {
        guard var job = jobs[transfer.number] else { throw Self.notInQueue(transfer) }
        guard transfer.pauseRequested || transfer.snapshot.state == .paused else {
            throw .invalidArgument("the transfer is not paused (\(transfer.snapshot.state.rawValue))")
        }
        transfer.clearPause()
        if !job.running {
            transfer.update {
                $0.state = .queued
                $0.nextAttempt = 0
            }
            job.failures = 0
            job.rejections = 0
            jobs[transfer.number] = job
            await registry.persist(transfer)
            await registry.changed(transfer)
        }
        schedule()
    }

    /// Cancels a send: a running attempt sends CANCEL; a waiting or paused send ends at once.
    func cancel(_ transfer: Transfer) async throws(EngineError) {
        guard transfer.requestCancel() else {
            throw .invalidArgument("the transfer has already ended (\(transfer.snapshot.state.rawValue))")
        }
        guard let job = jobs[transfer.number], !job.running else { return }
        await conclude(job, .cancelled, error: "cancelled")
        schedule()
    }

    private static func notInQueue(_ transfer: Transfer) -> EngineError {
        let state = transfer.snapshot.state
        if state.isFinished { return .invalidArgument("the transfer has already ended (\(state.rawValue))") }
        return .invalidArgument("the transfer is not an outgoing transfer of the queue")
    }

    /// Sends waiting (queued or paused) and sends running.
    var counts: (waiting: Int, running: Int) {
        let running = jobs.values.filter(\.running).count
        return (jobs.count - running, running)
    }
}
