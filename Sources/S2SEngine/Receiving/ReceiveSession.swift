import S2SCore
import S2SLinux
import Logging
import S2SPeer
import S2SProtocol
import Synchronization
import NIOCore

/// The receiver's side of one session (docs/protocol.md): reads the offer, decides, accepts with
/// resume points, writes the files into the endpoint's partial area as the endpoint's owner,
/// verifies, makes them durable in batches, publishes them, and confirms each.
///
/// A thin loop over three parts: the `SessionValidator` checks every record, the `OfferPlan`
/// decides on the offer (resume points, quota, space) without I/O, the `ReceiveSink` does the
/// file-system side; the `ReceiveBatch` holds the owed FILE_RESULTs. The session reads records,
/// keeps the resume records and the transfer's progress, and answers.
///
/// Used by one task from start to end. The sender learns nothing but the protocol's short codes;
/// the details go to the log and to the transfer's `Error` property, which only the endpoint's
/// owner can read.
final class ReceiveSession {
    private let route: String
    /// The punched path this session came by, for its further connections.
    private let punched: DirectPath.Punched?
    private let channel: SecureChannel
    private let endpoint: Endpoint
    private let context: ReceiveContext
    private var logger: Logger
    private var validator: SessionValidator

    // Set while the offer is read.
    private var token: TransferToken?
    private var algorithm: FileDigest.Algorithm = .xxh3_128
    private var entries: [OfferEntry] = []

    // Set once the offer is accepted.
    private var user: UserWorker?
    private var plan: OfferPlan?
    private var sink: ReceiveSink?
    private var transfer: Transfer?

    /// Set once STRIPES was sent: the session's further connections; started by the first record
    /// in SEQ (docs/protocol.md, "Striped sessions").
    private var merger: StripeMerger?
    private var merging = false
    /// Started by the first DATA after ACCEPT that is not in SEQ (the session is then one
    /// connection's to its end), with the records it handed over that the session has not taken yet.
    private var readAhead: RecordReadAhead?
    private var readRecords: ArraySlice<Record> = []

    /// The further connections one session accepts (the sender's `Streams=` goes up to 16).
    static let maxExtraStripes = 15
    /// On the relay route, where each further connection waits at the relay from the start (and
    /// costs the relay its copying): four connections in all, the automatic count.
    static let maxExtraRelayedStripes = 3

    /// Whether this session holds its token's claim (`ResumeStore.claim`).
    private var claimedToken = false
    /// A file whose data is being discarded after a write error, with the result it will get.
    private var discarding: (index: UInt32, code: FileResultCode)?
    /// FILE_RESULTs owed, in order.
    private var batch = ReceiveBatch()
    /// The last flushed batch, renamed into place, until its names are durable (`flush`).
    private var renamed: RenamedBatch?
    /// A flush whose disk work is under way, with what it settles once done (`flush`).
    private var flushing: FlushUnderWay?
    /// The accepted offer's resume records while they are written (`recordAcceptance`): nil
    /// once written, or why they could not be.
    private var acceptanceRecord: PendingResult<String?>?
    private var failures = 0
    private var firstFailure = ""
    /// A record read ahead (the offer's first, while a direct path was tried) and already checked.
    private var pendingRecord: Record?

    /// How the session ended, for the log and the transfer.
    private enum Ending: Error {
        /// We refused the offer with this code.
        case refused(RefuseCode, String)
        /// We sent CANCEL.
        case cancelledHere(CancelCode, String)
        /// The sender sent CANCEL.
        case cancelledBySender(CancelCode)
        /// The connection broke or timed out; partial data is kept for a retry.
        case lost(String)
    }

    /// A flush handed to the publishing worker: the results it owes, the earlier batch whose
    /// names its sync makes durable, and the disk's answer to come.
    private struct FlushUnderWay {
        let owed: [ReceiveBatch.Owed]
        let earlier: RenamedBatch?
        let final: Bool
        let outcome: PendingResult<Result<BatchFlush.Outcome, ReceiveError>>
    }

    /// The connection is not a session of its own: its first record asked to join a striped one.
    private struct JoinRequest: Error {
        let secret: StripeSecret
    }

    /// - Parameter route: the `Route` the transfer shows: "direct" or "relay".
    init(channel: SecureChannel, endpoint: Endpoint, context: ReceiveContext, route: String = "direct", punched: DirectPath.Punched? = nil) {
        self.route = route
        self.punched = punched
        self.channel = channel
        self.endpoint = endpoint
        self.context = context
        self.validator = SessionValidator(role: .receiver, limits: channel.limits)
        var logger = context.logger
        logger[metadataKey: "endpoint"] = "\(endpoint.objectNumber)"
        self.logger = logger
    }

    /// Runs the session to its end; never throws (every outcome is logged and reported on the
    /// transfer).
    func run() async {
        if channel.directAgreed, let direct = await tryDirectPath() {
            // The sender closes the relayed connection; the session starts again on the direct one.
            await channel.close()
            logger.info("the sender moved to a direct path")
            await context.serve(paired: direct.connection, route: "punched", punched: direct.path, handshakeDone: {})
            return
        }
        let outcome: Ending?
        do {
            try await readOffer()
            try await accept()
            try await receiveFiles()
            outcome = nil
        } catch let ending as Ending {
            outcome = ending
        } catch let join as JoinRequest {
            await joinStripe(join.secret)
            return
        } catch {
            outcome = .lost("\(error)")
        }
        await finish(outcome)
    }

    /// Serves a connection whose first record was JOIN: it becomes a further connection of the
    /// striped session that gave out `secret` for this endpoint, read until that session ends.
    private func joinStripe(_ secret: StripeSecret) async {
        guard let merger = context.stripes.merger(for: secret, endpoint: endpoint.number), merger.admit(channel) else {
            // Debug: anyone who knows the endpoint ID can make these, as many as the handshake bounds let through.
            logger.debug("a connection asked to join a striped session that is not under way here, or that has all its connections")
            await channel.close()
            return
        }
        do {
            try await channel.send(.joined)
            logger.debug("a connection joined a striped session")
            await merger.feedStripe(channel)
        } catch {
            logger.debug("a joining connection failed", metadata: ["error": "\(error)"])
        }
        await channel.close()
    }

    // MARK: Steps

    /// Relay to direct, the receiver's side (docs/protocol.md): this side's CANDIDATES first (none
    /// behind a symmetric NAT or without STUN), then the sender's; with both, the punch. Returns
    /// the direct connection, or nil to go on here (an offer read meanwhile waits in
    /// ``pendingRecord``). Bounded by ``DirectPath/exchangeDeadline`` (or the offer timeout if
    /// shorter): a sender that holds a slot without answering loses its session.
    private func tryDirectPath() async -> (connection: NIOAsyncChannel<ByteBuffer, ByteBuffer>, path: DirectPath.Punched)? {
        let channel = self.channel
        let timer = Task {
            try await Task.sleep(for: min(channel.limits.offerTimeout, DirectPath.exchangeDeadline))
            await channel.close()
        }
        defer { timer.cancel() }
        return await DirectPath.inSlot {
            let prepared = await DirectPath.prepare(servers: context.configuration.stunServers)
            guard let theirs = await exchangeCandidates(prepared.candidates), !theirs.isEmpty else { return nil }
            logger.debug("trying a direct path", metadata: ["local_port": "\(prepared.port)", "candidates": "\(theirs.count)"])
            let path = DirectPath.Punched(localPort: prepared.port, candidates: theirs)
            return await DirectPath.punch(along: path, receiver: true, limits: context.configuration.peerLimits, logger: logger).map { ($0, path) }
        } otherwise: {
            // Every slot is taken: decline, and go on on the relay.
            _ = await exchangeCandidates([])
        }
    }

    /// Sends this side's CANDIDATES and, unless empty, reads the sender's; nil when the session
    /// goes on on the relay at once (an empty list, an offer read instead, a broken exchange).
    private func exchangeCandidates(_ ours: [DirectCandidate]) async -> [DirectCandidate]? {
        do {
            try await sendChecked(.candidates(ours))
            guard !ours.isEmpty else { return nil }
            let record = try await receiveChecked()
            guard case .candidates(let theirs) = record else {
                pendingRecord = record
                return nil
            }
            return theirs
        } catch {
            logger.debug("the direct path's exchange failed", metadata: ["error": "\(error)"])
            return nil
        }
    }

    /// Limits that apply before the offer: the endpoint still open, the concurrency limits.
    private func admit() async throws {
        let now = Clock.nowMicroseconds
        guard let current = await context.endpoints.current(endpoint.number), !current.hasExpired(atMicroseconds: now) else {
            throw Ending.refused(.endpointExpired, "the endpoint has expired or was deleted")
        }
        let total = await context.transfers.activeIncomingCount
        let here = await context.transfers.activeIncoming(endpoint: endpoint.number)
        let limits = context.limits.current
        guard total < limits.maxIncomingTransfers, here < limits.maxIncomingTransfersPerEndpoint else {
            throw Ending.refused(.busy, "too many incoming transfers (\(here) into this endpoint, \(total) in all)")
        }
    }

    /// Reads OFFER_BEGIN, the entries and OFFER_END within the offer timeout.
    private func readOffer() async throws {
        let timedOut = Atomic(false)
        let channel = self.channel
        let timeout = channel.limits.offerTimeout
        let timer = Task {
            try await Task.sleep(for: timeout)
            timedOut.store(true, ordering: .relaxed)
            try? await channel.send(.cancel(.timeout))
            await channel.close()
        }
        defer { timer.cancel() }
        do {
            var first = true
            while true {
                let record = try await receiveChecked(allowJoin: first)
                if first {
                    first = false
                    // Limits that apply before the offer, once the connection said it is one.
                    try await admit()
                }
                switch record {
                case .offerBegin(let token, let digest, _, _):
                    self.token = token
                    self.algorithm = FileDigest.Algorithm(rawValue: digest.rawValue) ?? .xxh3_128
                case .entry(let entry):
                    entries.append(entry)
                case .offerEnd:
                    return
                default:
                    continue
                }
            }
        } catch {
            if timedOut.load(ordering: .relaxed) { throw Ending.lost("no complete offer within \(timeout)") }
            throw error
        }
    }

    /// Decides on the offer: use count, resume points, quota, free space; prepares the partial
    /// area and the directories; sends ACCEPT.
    private func accept() async throws {
        guard let token else { throw Ending.refused(.malformedOffer, "no offer") }
        // A sender that was killed and restarted comes back with the same token, possibly
        // before this daemon noticed that its first connection died: two sessions must never
        // write the same partial files. The sender retries a busy refusal.
        guard context.resume.claim(endpoint: endpoint.number, token: token) else {
            throw Ending.refused(.busy, "a session with this transfer's token is still running")
        }
        claimedToken = true
        if await context.transfers.takeCancelledWhilePaused(endpoint: endpoint.number, token: token) {
            throw Ending.cancelledHere(.cancelled, "cancelled here while its sender had paused it")
        }
        let user: UserWorker
        do {
            user = try UserWorker(try UserContext.lookup(uid: endpoint.owner))
        } catch {
            throw Ending.refused(.refused, "the endpoint's owner \(endpoint.owner): \(error)")
        }
        self.user = user
        // Every offered path is checked here, so that a bad one refuses the offer before anything
        // is made; only the directories' are kept, to be made (a file's name is checked again as
        // it is published).
        var paths: [Int: ReceivePath] = [:]
        do {
            for (index, entry) in entries.enumerated() {
                if entry.kind == .directory {
                    paths[index] = try ReceivePath(entry.path.string)
                } else {
                    try ReceivePath.check(offered: entry.path.string)
                }
            }
        } catch {
            throw Ending.refused(.malformedOffer, "offered path: \(error)")
        }

        // What this daemon remembers of the token.
        let known: ResumeStore.Transfer?
        do {
            known = OfferPlan.held(try context.resume.load(endpoint: endpoint.number, token: token), digest: algorithm.rawValue)
        } catch {
            throw Ending.refused(.refused, "cannot read resume records: \(error)")
        }
        if known == nil {
            let allowed: Bool
            do {
                allowed = try await context.endpoints.consumeUse(endpoint.number)
            } catch {
                throw Ending.refused(.refused, "\(error)")
            }
            guard allowed else { throw Ending.refused(.endpointExpired, "the endpoint has no uses left") }
            if endpoint.remainingUses != nil, let updated = await context.endpoints.current(endpoint.number) {
                await context.transfers.endpointChanged(updated)
            }
        }
        var plan = OfferPlan(entries: entries, known: known)

        // Quota: what was delivered, plus what other transfers into this endpoint may still bring.
        let current = await context.endpoints.current(endpoint.number) ?? endpoint
        let reserved = await context.transfers.reservedIncoming(endpoint: endpoint.number)
        do {
            try plan.checkQuota(received: current.bytesReceived, reserved: reserved, quota: endpoint.quota)
        } catch {
            throw Ending.refused(error.code, error.reason)
        }

        // The partial area, the resume offsets it can really back, the space, the directories.
        let prepared: (sink: ReceiveSink, usable: [UInt32: UInt64], published: Set<Int>)
        do {
            prepared = try await ReceiveSink.prepare(
                user: user, endpointDirectory: endpoint.directory, token: token, algorithm: algorithm, plan: plan, paths: paths,
                reserve: context.limits.current.freeSpaceReserve)
        } catch {
            throw Ending.refused(RefuseCode(rawValue: error.refuseCode) ?? .refused, error.message)
        }
        sink = prepared.sink
        plan.settle(usable: prepared.usable, published: prepared.published)
        self.plan = plan
        // The transfer is shown first: its history row is written by the same database
        // connection that the records then take for a while.
        await startTransfer(plan, token: token)
        await recordAcceptance(plan, token: token)
        for record in Record.acceptRecords(resume: plan.resumePoints, maxRecordSize: channel.peerHello.effectiveMaxRecordSize) {
            try await sendChecked(record)
        }
        // A punched session over SRT (no punched TCP path) is one connection.
        if channel.peerHello.has(Hello.Feature.stripes), route != "punched" || punched != nil {
            let relayed = route == "relay"
            let extra = relayed ? Self.maxExtraRelayedStripes : punched != nil ? DirectPath.mostExtraStripes : Self.maxExtraStripes
            let merger = StripeMerger(extra: extra, gapTimeout: channel.limits.idleTimeout)
            context.stripes.register(merger, endpoint: endpoint.number)
            self.merger = merger
            let context = self.context
            if relayed {
                merger.keep { await context.waitAtRelays(for: merger) }
            } else if let punched {
                let channel = self.channel
                merger.keep {
                    // The sender starts its further connections when STRIPES reaches it, half a
                    // round trip from now: starting then too, both sides' SYNs cross mid-way and
                    // each finds its NAT's way out already open.
                    let halfRoundTrip = await channel.pathReport().map { Duration.microseconds(Int64(min($0.roundTrip, 1_000_000) / 2)) }
                    try? await Task.sleep(for: halfRoundTrip ?? .zero)
                    await context.punchStripes(for: merger, along: punched)
                }
            }
            try await sendChecked(.stripes(extra: UInt8(merger.extra), secret: merger.secret))
        }
    }

    /// Records the accepted offer (what a retry may resume) and the files found published before
    /// a stop, on a thread of its own while ACCEPT goes out and the first data comes in: the
    /// records of a large offer took as long as receiving its first few hundred files (40 ms for
    /// 10,000 entries), with the sender waiting. Nothing they describe happens before they are
    /// written: every flush, checkpoint record and the end wait for them
    /// (``acceptanceRecorded()``). A stop before then leaves the token's earlier records, or none,
    /// and nothing published since, which a retry resumes from as it would have before.
    private func recordAcceptance(_ plan: OfferPlan, token: TransferToken) async {
        let resume = context.resume
        let endpointNumber = endpoint.number
        let digest = algorithm.rawValue
        let records = plan.records
        let recovered = plan.recovered
        let recoveredBytes = plan.recoveredBytes
        let logger = self.logger
        let pending = PendingResult<String?>()
        let write: @Sendable () -> Void = {
            do {
                try resume.begin(endpoint: endpointNumber, token: token, digest: digest, entries: records, now: Clock.nowMicroseconds)
            } catch {
                pending.complete("\(error)")
                return
            }
            if !recovered.isEmpty {
                do {
                    try resume.record(endpoint: endpointNumber, token: token, delivered: recovered, bytes: recoveredBytes, now: Clock.nowMicroseconds)
                } catch {
                    logger.error("cannot record delivered files", metadata: ["error": "\(error)"])
                }
            }
            pending.complete(nil)
        }
        acceptanceRecord = pending
        if DetachedThread.start(write) != nil { write() }  // no thread to be had: here, as before
        if !recovered.isEmpty {
            await context.endpoints.addReceived(endpointNumber, bytes: recoveredBytes, files: UInt64(recovered.count))
            logger.notice("files published just before the daemon stopped count as delivered", metadata: ["files": "\(recovered.count)"])
        }
    }

    /// Waits until the accepted offer's records are written (``recordAcceptance``); throws if they
    /// could not be, which ends the transfer before anything is published that a retry would not
    /// know of.
    private func acceptanceRecorded() async throws {
        guard let pending = acceptanceRecord else { return }
        if let failure = await pending.value() {
            throw Ending.cancelledHere(.internalError, "cannot record the transfer: \(failure)")
        }
        acceptanceRecord = nil
    }

    /// Shows the accepted transfer, with what it starts with (resumed and complete files): the
    /// one its sender paused, if this session continues it, or a new one.
    private func startTransfer(_ plan: OfferPlan, token: TransferToken) async {
        let resumed = plan.resumedBytes
        let complete = plan.completeFiles
        let completeBytes = plan.completeBytes
        let files = UInt64(plan.fileCount)
        let transfer: Transfer
        if let paused = await context.transfers.resumePaused(endpoint: endpoint.number, token: token) {
            transfer = paused
        } else {
            transfer = await context.transfers.start(
                direction: .receive, owner: endpoint.owner, route: route, endpoint: endpoint, names: Transfer.topLevelNames(entries),
                digestAlgorithm: "\(DigestAlgorithm(rawValue: algorithm.rawValue) ?? .xxh3_128)", initialState: .receiving)
        }
        transfer.update {
            $0.bytesTotal = validator.totalBytes
            $0.bytesResumed = resumed + completeBytes
            $0.bytesDone = resumed + completeBytes
            $0.bytesConfirmed = completeBytes
            $0.filesTotal = files
            $0.filesDone = complete
        }
        self.transfer = transfer
        logger[metadataKey: "transfer"] = "\(transfer.objectNumber)"
        let channel = self.channel
        transfer.onCancel { code in
            // Incoming transfers are never paused (code nil): only their sender's queue is.
            guard let code else { return }
            Task {
                try? await channel.send(.cancel(code))
                await channel.close()
            }
        }
        logger.info(
            "incoming transfer accepted",
            metadata: [
                "files": "\(files)", "entries": "\(entries.count)", "bytes": "\(validator.totalBytes)",
                "resumed_bytes": "\(resumed)", "complete_files": "\(complete)", "digest": "\(algorithm)",
                "cipher": "\(channel.cipher.rawValue)", "announced": "\(channel.announcedCipher.rawValue)",
            ])
    }

    /// DATA, FILE_END, FILE_ABORT until DONE; then DONE_ACK.
    private func receiveFiles() async throws {
        while true {
            let record = try await receiveChecked()
            switch record.unsequenced {
            case .data(let index, let offset, let bytes):
                try await write(index: index, offset: offset, bytes: bytes)
            case .fileEnd(let index, let digest):
                try await endFile(index: index, digest: digest)
            case .fileAbort(let index):
                try await abortFile(index: index)
            case .done:
                try await flush(final: true)
                try await finishDirectories()
                try await sendChecked(.doneAck)
                return
            default:
                // KEEPALIVE too: a sender that only keeps the session alive still gets the
                // results that are due.
                break
            }
            if flushing?.outcome.isComplete == true {
                for batch in await settleFlush() { try await sendResults(batch) }
            }
            let now = ContinuousClock.now
            if batch.isDue(now: now) || renamed?.isDue(now: now) == true { try await flush() }
        }
    }

    // MARK: Files

    private func write(index: UInt32, offset: UInt64, bytes: ArraySlice<UInt8>) async throws {
        // Waiting here stops reading the connection, which slows the sender down (TCP's window).
        try await transfer?.throttle.take(bytes.count)
        transfer?.addBytes(bytes.count)
        guard let file = try await open(index), let sink else { return }
        do {
            try sink.write(bytes, to: file, at: offset)
        } catch {
            try fileFailed(index, error)
            return
        }
        if sink.checkpointDue(now: .now) {
            try checkpoint()
        }
    }

    /// The partial file of `index`: the current one, or a new one (resumed at its resume point);
    /// nil while the file's data is being discarded after a write error.
    private func open(_ index: UInt32) async throws -> PartialFile? {
        if discarding?.index == index { return nil }
        guard let sink, let plan else { throw Ending.lost("no partial area") }
        if let current = sink.current, current.index == index { return current.file }
        let file: PartialFile
        if let ready = await sink.takeCreated(index) {
            file = ready
            sink.keepCreatingAhead { count in plan.upcomingFiles(after: index, limit: count, created: sink.isCreated) }
        } else {
            guard let made = try await create(index, sink: sink, plan: plan) else { return nil }
            file = made
        }
        sink.current = (index, file, plan.resumeOffsets[index] ?? 0, .now)
        transfer?.update { $0.currentFile = plan.entries[Int(index)].path.string }
        return file
    }

    /// Creates the partial file of `index` (or continues it from its resume point); a new one comes
    /// with those of the next ``ReceiveSink/createAhead`` files that start from 0. Nil if it cannot
    /// be created (the file has failed).
    private func create(_ index: UInt32, sink: ReceiveSink, plan: OfferPlan) async throws -> PartialFile? {
        guard sink.hasArea else { throw Ending.lost("no partial area") }
        let offset = plan.resumeOffsets[index] ?? 0
        let ahead = offset > 0 ? [] : plan.upcomingFiles(after: index, limit: ReceiveSink.createAhead, created: sink.isCreated)
        do {
            return try await sink.create(slot: plan.slot(index), offset: offset, ahead: ahead)
        } catch {
            try fileFailed(index, error)
            return nil
        }
    }

    private func endFile(index: UInt32, digest: [UInt8]) async throws {
        guard let file = try await open(index) else {
            let code = discarding?.code ?? .writeError
            discarding = nil
            batch.add(index: index, code: code)
            return
        }
        sink?.current = nil
        let entry = entries[Int(index)]
        do {
            try file.finish(
                expected: digest, size: entry.size, offeredMode: entry.mode,
                mtime: ReceiveTime(seconds: entry.mtimeSeconds, nanoseconds: entry.mtimeNanoseconds))
        } catch {
            logger.warning("file failed", metadata: ["entry": "\(index)", "error": "\(error)"])
            note(failure: "\(entry.path): \(error.message)")
            sink?.discard(file)
            batch.add(index: index, code: FileResultCode(rawValue: error.fileResultCode) ?? .writeError)
            return
        }
        if plan?.fileCount == 1 {
            transfer?.update { $0.digest = FileDigest.hex(digest) }
        }
        batch.add(verified: file, index: index, size: entry.size)
    }

    private func abortFile(index: UInt32) async throws {
        await sink?.abandon(index)
        discarding = nil
        note(failure: "\(entries[Int(index)].path): the sender gave up on it")
        batch.add(index: index, code: .cancelled)
    }

    /// A write error on file `index`: space and quota end the session (every later file would fail
    /// too); anything else fails this file only, and its remaining data is discarded.
    private func fileFailed(_ index: UInt32, _ error: ReceiveError) throws {
        logger.warning("cannot write a received file", metadata: ["entry": "\(index)", "error": "\(error)"])
        switch error.kind {
        case .insufficientSpace: throw Ending.cancelledHere(.insufficientSpace, error.message)
        case .quotaExceeded: throw Ending.cancelledHere(.quotaExceeded, error.message)
        default: break
        }
        sink?.discardCurrent(ifEntry: index)
        note(failure: "\(entries[Int(index)].path): \(error.message)")
        discarding = (index, FileResultCode(rawValue: error.fileResultCode) ?? .writeError)
    }

    private func note(failure: String) {
        failures += 1
        if firstFailure.isEmpty { firstFailure = failure }
    }

    // MARK: Durability

    /// Makes the verified files durable in one batch, publishes them, records the delivery, and
    /// sends every owed FILE_RESULT in order.
    ///
    /// The disk work (``BatchFlush``) runs on the sink's publishing worker while the session
    /// receives the next batch; its results are settled when it is done (``settleFlush()``), at the
    /// latest by the next flush. A batch's new names become durable with the next batch's data, in
    /// the same `syncfs` (one journal commit per batch instead of two), so its results go out one
    /// flush later (they are kept in `renamed`); `final` (the transfer ends or stops here) waits
    /// for the disk, makes the names durable at once and answers for every file. Without
    /// `answering` (after a CANCEL) the results are settled but not sent.
    private func flush(final: Bool = false, answering: Bool = true) async throws {
        try await acceptanceRecorded()
        var answers = await settleFlush()
        // Not `let plan`: a copy held here would make `delivered` copy the plan's every record on
        // each flush (copy on write), a cost that grew with the number of files.
        if !batch.isEmpty || renamed != nil, let sink, sink.hasArea, self.plan != nil, let token {
            startFlush(sink: sink, token: token, final: final)
            if final { answers += await settleFlush() }
        }
        guard answering else { return }
        for batch in answers { try await sendResults(batch) }
    }

    /// Hands the batch, and the names renamed by the flush before, to the publishing worker.
    private func startFlush(sink: ReceiveSink, token: TransferToken, final: Bool) {
        let earlier = renamed
        renamed = nil
        let owed = batch.take()
        // Keyed by the entry's index in this offer, never by the partial file's slot: a retry
        // may offer a path at another index than the one its slot was first given for.
        let files = owed.compactMap { owed in
            owed.file.map { file in
                let entry = entries[Int(owed.index)]
                return BatchFlush.File(
                    entry: owed.index, path: entry.path.string,
                    request: PartialArea.PublishRequest(
                        file: file, directory: entry.path.parent.flatMap { sink.directories[$0] }, name: String(entry.path.lastComponent)))
            }
        }
        let resume = context.resume
        let endpointNumber = endpoint.number
        let work = BatchFlush(files: files, earlier: earlier, syncingNames: final)
        let outcome = sink.startFlush(work) { publishing, delivered in
            try resume.record(
                endpoint: endpointNumber, token: token, publishing: publishing, delivered: delivered?.delivered ?? [],
                bytes: delivered?.bytes ?? 0, now: Clock.nowMicroseconds)
        }
        flushing = FlushUnderWay(owed: owed, earlier: earlier, final: final, outcome: outcome)
    }

    /// Waits for the flush under way, if any, and settles it: the earlier batch counts as
    /// delivered once its names are durable, this one's files are published or failed. Returns
    /// the batches whose results are due, in order. Everything is recorded and counted before
    /// anything is sent: sending may fail.
    private func settleFlush() async -> [RenamedBatch] {
        guard let flushing, let token else { return [] }
        self.flushing = nil
        let outcome: BatchFlush.Outcome
        switch await flushing.outcome.value() {
        case .success(let done):
            outcome = done
        case .failure(let error):
            // The worker could not act as the owner: nothing was synced or published.
            outcome = BatchFlush.Outcome(
                earlierDurable: false,
                published: Dictionary(uniqueKeysWithValues: flushing.owed.filter { $0.file != nil }.map { ($0.index, .failure(error)) }))
        }
        if let failure = outcome.recordFailure {
            logger.error("cannot record the files published", metadata: ["error": "\(failure)"])
        }
        let confirmed = flushing.earlier.map { outcome.earlierDurable ? $0 : failed($0) }
        var current = RenamedBatch(results: [], deliveries: [], since: .now)
        for owed in flushing.owed {
            var code = owed.code
            if owed.file != nil, let result = outcome.published[owed.index] {
                switch result {
                case .success(let publication):
                    let entry = entries[Int(owed.index)]
                    current.deliveries.append(
                        .init(index: owed.index, size: entry.size, path: entry.path.string, publishedAs: publication.path.description))
                case .failure(let error):
                    logger.warning("cannot publish a received file", metadata: ["entry": "\(owed.index)", "error": "\(error)"])
                    note(failure: "\(entries[Int(owed.index)].path): \(error.message)")
                    if let slot = self.plan?.slot(owed.index) { sink?.removeFile(slot: slot) }
                    code = FileResultCode(rawValue: error.fileResultCode) ?? .writeError
                }
            }
            current.results.append((owed.index, code))
        }
        // Without new names to wait for (or with them durable already), this batch's results go
        // now.
        let settled = flushing.final || current.deliveries.isEmpty
        if let confirmed { await count(confirmed) }
        if settled {
            recordDelivered(current, token: token)
            await count(current)
        } else {
            renamed = current
        }
        return [confirmed, settled ? current : nil].compactMap { $0 }
    }

    /// Records the files of a flushed batch delivered, once their names are durable.
    private func recordDelivered(_ batch: RenamedBatch, token: TransferToken) {
        do {
            try context.resume.record(
                endpoint: endpoint.number, token: token, delivered: batch.delivered, bytes: batch.bytes, now: Clock.nowMicroseconds)
        } catch {
            // The files are in place; only the retry bookkeeping is behind.
            logger.error("cannot record delivered files", metadata: ["error": "\(error)"])
        }
    }

    /// Counts the files of a flushed batch delivered, once their names are durable.
    private func count(_ batch: RenamedBatch) async {
        guard !batch.deliveries.isEmpty else { return }
        let bytes = batch.bytes
        for delivery in batch.deliveries { plan?.delivered(delivery.index, as: delivery.publishedAs) }
        await context.endpoints.addReceived(endpoint.number, bytes: bytes, files: UInt64(batch.deliveries.count))
        if let updated = await context.endpoints.current(endpoint.number) { await context.transfers.endpointChanged(updated) }
        let count = UInt64(batch.deliveries.count)
        transfer?.update {
            $0.filesDone += count
            $0.bytesConfirmed += bytes
        }
    }

    /// Sends a flushed batch's results, in order.
    private func sendResults(_ batch: RenamedBatch) async throws {
        for result in batch.results {
            try await sendChecked(.fileResult(entry: result.index, result.code))
        }
    }

    /// A renamed batch whose names could not be made durable: each of its files fails (it stays
    /// where it was published, as when a directory's sync fails).
    private func failed(_ batch: RenamedBatch) -> RenamedBatch {
        for delivery in batch.deliveries {
            logger.warning("cannot publish a received file", metadata: ["entry": "\(delivery.index)", "error": "the sync of its name failed"])
            note(failure: "\(delivery.path): cannot make its name durable")
        }
        let failedEntries = Set(batch.deliveries.map(\.index))
        return RenamedBatch(
            results: batch.results.map { failedEntries.contains($0.index) ? ($0.index, .writeError) : $0 }, deliveries: [],
            since: batch.since)
    }

    /// Applies directories' modes and mtimes once everything is in place.
    private func finishDirectories() async throws {
        guard let sink else { return }
        do {
            try await sink.finishDirectories(entries, endpointDirectory: endpoint.directory)
        } catch {
            // The files are delivered; a directory's mode or mtime is not worth failing for.
            logger.warning("cannot apply directory attributes", metadata: ["error": "\(error)"])
        }
    }

    /// Makes the current file's data durable and records how much of it a retry may keep.
    private func checkpoint() throws {
        guard let sink, let current = sink.current, let token else { return }
        do {
            try sink.syncCurrent()
        } catch {
            try fileFailed(current.index, error)
            return
        }
        let length = current.file.length
        // Before the offer's records are written there is no row to update (and the update could
        // come first): this resume point goes unrecorded, the next one will not.
        guard acceptanceRecord?.isComplete != false else { return }
        do {
            try context.resume.checkpoint(
                endpoint: endpoint.number, token: token, path: entries[Int(current.index)].path.string, durable: length,
                now: Clock.nowMicroseconds)
        } catch {
            logger.warning("cannot record a resume point", metadata: ["error": "\(error)"])
        }
        sink.current?.checkpointed = length
        sink.current?.at = .now
    }

    // MARK: The channel

    /// The next record, checked by the session rules. A violation before ACCEPT is refused with its
    /// code; after it, answered with CANCEL(protocol error). The sender's CANCEL ends the session.
    ///
    /// - Parameter allowJoin: a JOIN is allowed (the connection's first record) and thrown as
    ///   ``JoinRequest``.
    private func receiveChecked(allowJoin: Bool = false) async throws -> Record {
        if let pending = pendingRecord {
            pendingRecord = nil
            return pending
        }
        let record: Record
        do {
            record = try await nextRecord()
            if allowJoin, case .join(let secret) = record { throw JoinRequest(secret: secret) }
            try validator.received(record)
        } catch let join as JoinRequest {
            throw join
        } catch let error as ProtocolError {
            throw protocolViolation(error)
        } catch PeerError.protocolError(let error) {
            throw protocolViolation(error)
        } catch PeerError.frameTooLarge(let length, let limit) {
            throw protocolViolation(.recordTooLarge(size: length - ProtocolLimits.tagLength, limit: limit - ProtocolLimits.tagLength))
        } catch PeerError.malformedFrame(let reason) where !reason.hasPrefix("stream ended") {
            throw validator.canRefuse
                ? Ending.refused(.malformedOffer, "malformed frame: \(reason)")
                : Ending.cancelledHere(.protocolError, "malformed frame: \(reason)")
        } catch {
            if let code = transfer?.cancelRequest { throw Ending.cancelledHere(code, "cancelled (\(code))") }
            throw Ending.lost("\(error)")
        }
        if case .cancel(let code) = record { throw Ending.cancelledBySender(code) }
        return record
    }

    /// The next record from the main connection, or, once the sender's first record after ACCEPT
    /// came in SEQ, from all the session's connections in SEQ order.
    private func nextRecord() async throws -> Record {
        if let record = readRecords.popFirst() { return record }
        if merging, let merger {
            readRecords = try await merger.take()[...]
            if let record = readRecords.popFirst() { return record }
        }
        if let readAhead {
            readRecords = try await readAhead.take()[...]
            if let record = readRecords.popFirst() { return record }
        }
        let channel = self.channel
        let record = try await channel.receive()
        guard let merger, case .sequenced = record, validator.phase == .transferring, validator.isSequenced == nil else {
            if validator.phase == .transferring, readAhead == nil, case .data = record {
                readAhead = RecordReadAhead { try await channel.receive() }
            }
            return record
        }
        merging = true
        merger.start(main: channel, first: record)
        return try await nextRecord()
    }

    private func protocolViolation(_ error: ProtocolError) -> Ending {
        validator.canRefuse
            ? .refused(error.refuseCode, "protocol error: \(error)")
            : .cancelledHere(.protocolError, "protocol error: \(error)")
    }

    private func sendChecked(_ record: Record) async throws {
        do {
            try validator.sending(record)
            try await channel.send(record)
        } catch {
            if let code = transfer?.cancelRequest { throw Ending.cancelledHere(code, "cancelled (\(code))") }
            throw Ending.lost("while sending: \(NetworkErrorText.describe(error))")
        }
    }

    // MARK: The end

    private func finish(_ outcome: Ending?) async {
        switch outcome {
        case nil:
            await conclude(state: failures == 0 ? .done : .failed, error: failures == 0 ? "" : summaryOfFailures)
            if let token, (try? await acceptanceRecorded()) != nil {
                try? context.resume.complete(endpoint: endpoint.number, token: token, now: Clock.nowMicroseconds)
            }
            await removePartialArea()
            logger.info("incoming transfer finished", metadata: ["failed_files": "\(failures)", "connections": "\(merger?.connections ?? 1)"])
        case .refused(let code, let reason):
            try? await channel.send(.refuse(code))
            logger.notice("incoming offer refused", metadata: ["code": "\(code)", "reason": "\(reason)"])
            await conclude(state: .failed, error: "refused: \(reason)")
        case .cancelledHere(let code, let reason):
            if transfer?.cancelRequest == nil || code != transfer?.cancelRequest {
                try? await channel.send(.cancel(code))
            }
            await forgetTransfer()
            logger.notice("incoming transfer cancelled", metadata: ["code": "\(code)", "reason": "\(reason)"])
            await conclude(state: code == .cancelled || code == .endpointGone ? .cancelled : .failed, error: reason)
        case .cancelledBySender(.paused):
            // The sender stops for now: keep what is verified, as for a lost connection, and
            // show the transfer paused until the sender's next session with this token.
            try? await flush(final: true)
            try? checkpoint()
            logger.notice("the sender paused the transfer")
            if let transfer, let token {
                await context.transfers.pauseIncoming(transfer, endpoint: endpoint.number, token: token)
            }
        case .cancelledBySender(let code):
            await forgetTransfer()
            logger.notice("the sender cancelled the transfer", metadata: ["code": "\(code)"])
            await conclude(state: .cancelled, error: code == .cancelled ? "cancelled by the sender" : "cancelled by the sender: \(code)")
        case .lost(let reason):
            // Keep what is verified for a retry: publish finished files, checkpoint the current one.
            try? await flush(final: true)
            try? checkpoint()
            logger.notice("incoming transfer interrupted", metadata: ["reason": "\(reason)"])
            await conclude(state: .failed, error: "interrupted: \(reason); the sender can retry and resume")
        }
        if let readAhead {
            let channel = self.channel
            await readAhead.stop(within: SecureChannel.drainTimeout) { channel.abort() }
        }
        await channel.close()
        if let merger {
            await merger.end()
            context.stripes.remove(merger)
        }
        sink?.stop()
        user?.stop()
        if claimedToken, let token { context.resume.release(endpoint: endpoint.number, token: token) }
    }

    private var summaryOfFailures: String {
        failures == 1 ? firstFailure : "\(failures) files failed; the first: \(firstFailure)"
    }

    private func conclude(state: Transfer.State, error: String) async {
        guard let transfer else { return }
        transfer.finish(state, error: error)
        await context.transfers.finished(transfer)
    }

    /// After a CANCEL: the partial data goes and the token is forgotten.
    private func forgetTransfer() async {
        sink?.current = nil
        batch = ReceiveBatch()
        // Files renamed into place stay there, as files confirmed before a CANCEL do, and count
        // once their names are durable; if that sync fails they fail. No results go back.
        try? await flush(final: true, answering: false)
        renamed = nil
        await removePartialArea()
        // Written or not, the offer's records are done with before they are deleted.
        _ = try? await acceptanceRecorded()
        if let token { try? context.resume.forget(endpoint: endpoint.number, token: token) }
    }

    private func removePartialArea() async {
        guard let sink else { return }
        do {
            try await sink.removeArea()
        } catch {
            logger.warning("cannot remove partial data", metadata: ["error": "\(error)"])
        }
    }
}
