import Logging
import S2SPeer
import S2SProtocol
import Synchronization

/// What every incoming session needs from the daemon.
struct ReceiveContext: Sendable {
    let endpoints: EndpointRegistry
    let transfers: TransferRegistry
    let resume: ResumeStore
    let configuration: Configuration
    /// MaxIncomingTransfers, MaxIncomingTransfersPerEndpoint and FreeSpaceReserve as they are now
    /// (an administrator may change them while the daemon runs).
    let limits: LiveLimits
    let logger: Logger
}

/// The receiver's side of one session (docs/protocol.md): reads the offer, decides, accepts with
/// resume points, writes the files into the endpoint's partial area as the endpoint's owner,
/// verifies, makes them durable in batches, publishes them, and confirms each.
///
/// Used by one task from start to end. The sender learns nothing but the protocol's short codes;
/// the details go to the log and to the transfer's `Error` property, which only the endpoint's
/// owner can read.
final class ReceiveSession {
    private let route: String
    /// Verified files are made durable and published together once this many are waiting...
    static let batchFiles = 256
    /// ... or once they hold this many bytes...
    static let batchBytes: UInt64 = 64 << 20
    /// ... or once the oldest has waited this long.
    static let batchDelay: Duration = .seconds(1)
    /// A file being received is made durable (and its resume point recorded) every this many bytes.
    static let checkpointBytes: UInt64 = 256 << 20
    /// Partial files created ahead, in one hop to the owner's thread, for the files the sender
    /// sends next (it sends them in offer order). One hop per file was a fifth of the receiver's
    /// time on a tree of small files.
    static let createAhead = 16

    private let channel: SecureChannel
    private let endpoint: Endpoint
    private let context: ReceiveContext
    private var logger: Logger
    private var validator: SessionValidator

    // Set once the offer is accepted.
    private var user: UserWorker?
    private var token: TransferToken?
    private var algorithm: FileDigest.Algorithm = .xxh3_128
    private var entries: [OfferEntry] = []
    private var records: [ResumeStore.Entry] = []
    private var resumeOffsets: [UInt32: UInt64] = [:]
    /// The offer's file entries (counted once: FILE_END asks for every file).
    private var fileCount = 0
    private var directories: [String: ReceivePath] = [:]
    private var area: PartialArea?
    private var transfer: Transfer?

    // The file being written.
    private var current: (index: UInt32, file: PartialFile, checkpointed: UInt64)?
    /// Whether this session holds its token's claim (`ResumeStore.claim`).
    private var claimedToken = false
    /// Partial files created ahead of their data (``createAhead``), by entry index.
    private var created: [UInt32: PartialFile] = [:]
    /// A file whose data is being discarded after a write error, with the result it will get.
    private var discarding: (index: UInt32, code: FileResultCode)?
    // FILE_RESULTs owed, in order.
    private var pending: [PendingResult] = []
    private var pendingBytes: UInt64 = 0
    private var oldestPending: ContinuousClock.Instant?
    private var failures = 0
    private var firstFailure = ""

    private struct PendingResult {
        let index: UInt32
        /// Verified, waiting to be made durable and published; nil when `code` is already known.
        let file: PartialFile?
        var code: FileResultCode
    }

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

    /// - Parameter route: the `Route` the transfer shows: "direct" or "relay".
    init(channel: SecureChannel, endpoint: Endpoint, context: ReceiveContext, route: String = "direct") {
        self.route = route
        self.channel = channel
        self.endpoint = endpoint
        self.context = context
        self.validator = SessionValidator(role: .receiver, limits: channel.limits)
        var logger = context.logger
        logger[metadataKey: "endpoint"] = "\(endpoint.number)"
        self.logger = logger
    }

    /// Runs the session to its end; never throws (every outcome is logged and reported on the
    /// transfer).
    func run() async {
        let outcome: Ending?
        do {
            try await admit()
            try await readOffer()
            try await accept()
            try await receiveFiles()
            outcome = nil
        } catch let ending as Ending {
            outcome = ending
        } catch {
            outcome = .lost("\(error)")
        }
        await finish(outcome)
    }

    // MARK: Steps

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
            while true {
                let record = try await receiveChecked()
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
        let user: UserWorker
        do {
            user = try UserWorker(try UserContext.lookup(uid: endpoint.owner))
        } catch {
            throw Ending.refused(.refused, "the endpoint's owner \(endpoint.owner): \(error)")
        }
        self.user = user
        let paths: [ReceivePath]
        do {
            paths = try entries.map { entry throws(ReceiveError) in try ReceivePath(components: entry.path.components.map(String.init)) }
        } catch {
            throw Ending.refused(.malformedOffer, "offered path: \(error)")
        }

        // What this daemon remembers of the token.
        let known: ResumeStore.Transfer?
        do {
            let record = try context.resume.load(endpoint: endpoint.number, token: token)
            known = record?.digest == algorithm.rawValue ? record : nil
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
        var nextSlot = (known?.entries.values.map(\.slot).max()).map { $0 + 1 } ?? 0
        var needed: UInt64 = 0
        var complete: UInt64 = 0
        var completeBytes: UInt64 = 0
        var recorded: [UInt32: UInt64] = [:]
        records = entries.enumerated().map { index, entry in
            var record: ResumeStore.Entry
            if let old = known?.entries[entry.path.string], old.matches(entry) {
                record = old
            } else {
                record = ResumeStore.Entry(
                    path: entry.path.string, kind: entry.kind, size: entry.size, mtimeSeconds: entry.mtimeSeconds,
                    mtimeNanoseconds: entry.mtimeNanoseconds,
                    slot: known?.entries[entry.path.string]?.slot ?? { defer { nextSlot += 1 }; return nextSlot }())
            }
            if entry.kind == .file {
                fileCount += 1
                if record.deliveredPath != nil {
                    complete += 1
                    completeBytes += entry.size
                } else {
                    needed += entry.size
                    if record.durable > 0 { recorded[UInt32(index)] = record.durable }
                }
            }
            return record
        }

        // Quota: what was delivered, plus what other transfers into this endpoint may still bring.
        let current = await context.endpoints.current(endpoint.number) ?? endpoint
        let reserved = await context.transfers.reservedIncoming(endpoint: endpoint.number)
        do {
            try ReceiveDirectory.checkQuota(used: current.bytesReceived &+ reserved, adding: needed, quota: endpoint.quota)
        } catch {
            throw Ending.refused(.quotaExceeded, error.message)
        }

        // The partial area, the resume offsets it can really back, the space, the directories.
        let endpointDirectory = endpoint.directory
        let reserve = context.limits.current.freeSpaceReserve
        let offers = entries
        let neededBytes = needed
        let slots = records.map(\.slot)
        let publishingIndices = records.indices.filter {
            entries[$0].kind == .file && records[$0].deliveredPath == nil && records[$0].publishing
        }
        let prepared: (PartialArea, [String: ReceivePath], [UInt32: UInt64], Set<Int>)
        do {
            prepared = try await user.receive { [recorded] () throws(ReceiveError) in
                let directory = try ReceiveDirectory(opening: endpointDirectory)
                let area = try directory.openPartialArea(token.partialAreaName)
                // A recorded resume point counts only if the partial file still holds those bytes.
                var usable = recorded
                for (index, offset) in recorded {
                    let length = try area.partialLength(index: slots[Int(index)]) ?? 0
                    if length < offset { usable[index] = nil }
                }
                // A file marked as being published whose partial file is gone was renamed to its
                // final name by a daemon killed before it could record the delivery.
                var published: Set<Int> = []
                for index in publishingIndices where try area.partialLength(index: slots[index]) == nil {
                    published.insert(index)
                }
                try directory.checkSpace(adding: neededBytes - usable.values.reduce(0, +), reserve: reserve)
                var made: [String: ReceivePath] = [:]
                for (index, entry) in offers.enumerated() where entry.kind == .directory {
                    let parent = entry.path.parent.flatMap { made[$0.string] }
                    made[entry.path.string] = try directory.makeDirectory(paths[index].name, in: parent)
                }
                return (area, made, usable, published)
            }
        } catch {
            throw Ending.refused(RefuseCode(rawValue: error.refuseCode) ?? .refused, error.message)
        }
        (area, directories, resumeOffsets) = (prepared.0, prepared.1, prepared.2)
        var recovered: [(path: String, publishedAs: String)] = []
        var recoveredBytes: UInt64 = 0
        for index in prepared.3.sorted() {
            // Where exactly (the offered name or one with a suffix) is not known; the offered
            // path stands for it. What matters is that it is not delivered twice.
            records[index].deliveredPath = entries[index].path.string
            records[index].publishing = false
            recovered.append((entries[index].path.string, entries[index].path.string))
            recoveredBytes += entries[index].size
            complete += 1
            completeBytes += entries[index].size
        }
        let resumed = resumeOffsets.values.reduce(0, +)

        // Resume pairs in index order; the records say what a later retry may resume.
        var resumePoints: [ResumePoint] = []
        for index in records.indices where entries[index].kind == .file {
            if records[index].deliveredPath != nil {
                resumePoints.append(ResumePoint(entry: UInt32(index), position: .complete))
            } else {
                let offset = resumeOffsets[UInt32(index)]
                records[index].durable = offset ?? 0
                if let offset { resumePoints.append(ResumePoint(entry: UInt32(index), position: .offset(offset))) }
            }
        }
        do {
            try context.resume.begin(
                endpoint: endpoint.number, token: token, digest: algorithm.rawValue, entries: records, now: Clock.nowMicroseconds)
        } catch {
            throw Ending.refused(.refused, "cannot record the transfer: \(error)")
        }
        if !recovered.isEmpty {
            do {
                try context.resume.delivered(
                    endpoint: endpoint.number, token: token, files: recovered, bytes: recoveredBytes, now: Clock.nowMicroseconds)
            } catch {
                logger.error("cannot record delivered files", metadata: ["error": "\(error)"])
            }
            await context.endpoints.addReceived(endpoint.number, bytes: recoveredBytes, files: UInt64(recovered.count))
            logger.notice("files published just before the daemon stopped count as delivered", metadata: ["files": "\(recovered.count)"])
        }

        let files = UInt64(fileCount)
        let transfer = await context.transfers.start(
            direction: .receive, owner: endpoint.owner, route: route, endpoint: endpoint, names: Transfer.topLevelNames(entries),
            digestAlgorithm: "\(algorithm)", initialState: .receiving)
        transfer.update {
            $0.bytesTotal = validator.totalBytes
            $0.bytesResumed = resumed + completeBytes
            $0.bytesDone = resumed + completeBytes
            $0.bytesConfirmed = completeBytes
            $0.filesTotal = files
            $0.filesDone = complete
        }
        self.transfer = transfer
        logger[metadataKey: "transfer"] = "\(transfer.number)"
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
            ])
        for record in Record.acceptRecords(resume: resumePoints, maxRecordSize: channel.peerHello.effectiveMaxRecordSize) {
            try await sendChecked(record)
        }
    }

    /// DATA, FILE_END, FILE_ABORT until DONE; then DONE_ACK.
    private func receiveFiles() async throws {
        while true {
            let record = try await receiveChecked()
            switch record {
            case .data(let index, let offset, let bytes):
                try await write(index: index, offset: offset, bytes: bytes)
            case .fileEnd(let index, let digest):
                try await endFile(index: index, digest: digest)
            case .fileAbort(let index):
                try await abortFile(index: index)
            case .done:
                try await flush()
                try await finishDirectories()
                try await sendChecked(.doneAck)
                return
            default:
                continue
            }
            if shouldFlush { try await flush() }
        }
    }

    // MARK: Files

    private func write(index: UInt32, offset: UInt64, bytes: ArraySlice<UInt8>) async throws {
        // Waiting here stops reading the connection, which slows the sender down (TCP's window).
        try await transfer?.throttle.take(bytes.count)
        transfer?.addBytes(bytes.count)
        guard let file = try await open(index) else { return }
        let result = bytes.withUnsafeBytes { raw in Result { () throws(ReceiveError) in try file.write(raw, at: offset) } }
        do {
            try result.get()
        } catch {
            try fileFailed(index, error)
            return
        }
        if let current, file.length - current.checkpointed >= Self.checkpointBytes {
            try checkpoint()
        }
    }

    /// The partial file of `index`: the current one, or a new one (resumed at its resume point);
    /// nil while the file's data is being discarded after a write error.
    private func open(_ index: UInt32) async throws -> PartialFile? {
        if discarding?.index == index { return nil }
        if let current, current.index == index { return current.file }
        let file: PartialFile
        if let ready = created.removeValue(forKey: index) {
            file = ready
        } else {
            guard let made = try await create(index) else { return nil }
            file = made
        }
        current = (index, file, resumeOffsets[index] ?? 0)
        transfer?.update { $0.currentFile = entries[Int(index)].path.string }
        return file
    }

    /// Creates the partial file of `index` (or continues it from its resume point); a new one comes
    /// with those of the next ``createAhead`` files that start from 0. Nil if it cannot be created
    /// (the file has failed).
    private func create(_ index: UInt32) async throws -> PartialFile? {
        guard let area, let user else { throw Ending.lost("no partial area") }
        let slot = records[Int(index)].slot
        let offset = resumeOffsets[index] ?? 0
        let algorithm = self.algorithm
        let ahead = offset > 0 ? [] : upcomingFiles(after: index)
        do {
            let (file, more) = try await user.receive { () throws(ReceiveError) in
                let file =
                    offset > 0
                    ? try area.resumeFile(index: slot, at: offset, algorithm: algorithm)
                    : try area.createFile(index: slot, algorithm: algorithm)
                // A file ahead that cannot be created now is tried again when its data comes.
                var more: [(UInt32, PartialFile)] = []
                for (entry, slot) in ahead {
                    guard let made = try? area.createFile(index: slot, algorithm: algorithm) else { break }
                    more.append((entry, made))
                }
                return (file, more)
            }
            for (entry, made) in more { created[entry] = made }
            return file
        } catch {
            try fileFailed(index, error)
            return nil
        }
    }

    /// The next files after `index` (entry and slot) that the sender will send from 0: not
    /// delivered, not resumed, not already created.
    private func upcomingFiles(after index: UInt32) -> [(UInt32, UInt32)] {
        var upcoming: [(UInt32, UInt32)] = []
        var next = Int(index) + 1
        while upcoming.count < Self.createAhead, next < entries.count {
            let entry = UInt32(next)
            if entries[next].kind == .file, records[next].deliveredPath == nil, resumeOffsets[entry] == nil, created[entry] == nil {
                upcoming.append((entry, records[next].slot))
            }
            next += 1
        }
        return upcoming
    }

    private func endFile(index: UInt32, digest: [UInt8]) async throws {
        guard let file = try await open(index) else {
            let code = discarding?.code ?? .writeError
            discarding = nil
            queue(PendingResult(index: index, file: nil, code: code))
            return
        }
        current = nil
        let entry = entries[Int(index)]
        do {
            try file.finish(
                expected: digest, size: entry.size, offeredMode: entry.mode,
                mtime: ReceiveTime(seconds: entry.mtimeSeconds, nanoseconds: entry.mtimeNanoseconds))
        } catch {
            logger.warning("file failed", metadata: ["entry": "\(index)", "error": "\(error)"])
            note(failure: "\(entry.path): \(error.message)")
            discard(file)
            queue(PendingResult(index: index, file: nil, code: FileResultCode(rawValue: error.fileResultCode) ?? .writeError))
            return
        }
        if fileCount == 1 {
            transfer?.update { $0.digest = FileDigest.hex(digest) }
        }
        pendingBytes += entry.size
        queue(PendingResult(index: index, file: file, code: .ok))
    }

    private func abortFile(index: UInt32) async throws {
        if let current, current.index == index {
            discard(current.file)
            self.current = nil
        }
        if let file = created.removeValue(forKey: index) { discard(file) }
        discarding = nil
        note(failure: "\(entries[Int(index)].path): the sender gave up on it")
        queue(PendingResult(index: index, file: nil, code: .cancelled))
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
        if let current, current.index == index {
            discard(current.file)
            self.current = nil
        }
        note(failure: "\(entries[Int(index)].path): \(error.message)")
        discarding = (index, FileResultCode(rawValue: error.fileResultCode) ?? .writeError)
    }

    private func discard(_ file: PartialFile) {
        file.fail()
        // A partial file's index is its slot.
        try? area?.removeFile(index: file.index)
    }

    private func note(failure: String) {
        failures += 1
        if firstFailure.isEmpty { firstFailure = failure }
    }

    private func queue(_ result: PendingResult) {
        if oldestPending == nil { oldestPending = .now }
        pending.append(result)
    }

    // MARK: Batches

    private var shouldFlush: Bool {
        guard let oldestPending else { return false }
        return pending.count >= Self.batchFiles || pendingBytes >= Self.batchBytes
            || ContinuousClock.now - oldestPending >= Self.batchDelay
    }

    /// Makes the verified files durable in one batch, publishes them, records the delivery, and
    /// sends every owed FILE_RESULT in order.
    private func flush() async throws {
        guard !pending.isEmpty, let area, let user, let token else { return }
        let verified = pending.compactMap(\.file)
        let requests = verified.map { file in
            let entry = entries[Int(file.index)]
            return PartialArea.PublishRequest(
                file: file, directory: entry.path.parent.flatMap { directories[$0.string] }, name: String(entry.path.lastComponent))
        }
        var published: [UInt32: Result<PartialArea.Published, ReceiveError>] = [:]
        if !requests.isEmpty {
            do throws(ReceiveError) {
                try area.sync(verified)
                let marked = Result {
                    try context.resume.publishing(
                        endpoint: endpoint.number, token: token, paths: verified.map { entries[Int($0.index)].path.string })
                }
                if case .failure(let error) = marked {
                    throw ReceiveError(.writeFailed, "cannot record the files to publish: \(error)")
                }
                let results = try await user.receive { () throws(ReceiveError) in area.publish(requests) }
                for (request, result) in zip(requests, results) { published[request.file.index] = result }
            } catch {
                for file in verified { published[file.index] = .failure(error) }
            }
        }
        var delivered: [(path: String, publishedAs: String)] = []
        var deliveredBytes: UInt64 = 0
        for position in pending.indices {
            let index = pending[position].index
            guard pending[position].file != nil, let result = published[index] else { continue }
            switch result {
            case .success(let publication):
                delivered.append((entries[Int(index)].path.string, publication.path.description))
                deliveredBytes += entries[Int(index)].size
                records[Int(index)].deliveredPath = publication.path.description
            case .failure(let error):
                logger.warning("cannot publish a received file", metadata: ["entry": "\(index)", "error": "\(error)"])
                note(failure: "\(entries[Int(index)].path): \(error.message)")
                try? area.removeFile(index: records[Int(index)].slot)
                pending[position].code = FileResultCode(rawValue: error.fileResultCode) ?? .writeError
            }
        }
        if !delivered.isEmpty {
            do {
                try context.resume.delivered(
                    endpoint: endpoint.number, token: token, files: delivered, bytes: deliveredBytes, now: Clock.nowMicroseconds)
            } catch {
                // The files are in place; only the retry bookkeeping is behind.
                logger.error("cannot record delivered files", metadata: ["error": "\(error)"])
            }
            await context.endpoints.addReceived(endpoint.number, bytes: deliveredBytes, files: UInt64(delivered.count))
            if let updated = await context.endpoints.current(endpoint.number) { await context.transfers.endpointChanged(updated) }
            let count = UInt64(delivered.count)
            transfer?.update {
                $0.filesDone += count
                $0.bytesConfirmed += deliveredBytes
            }
        }
        let results = pending
        pending = []
        pendingBytes = 0
        oldestPending = nil
        for result in results {
            try await sendChecked(.fileResult(entry: result.index, result.code))
        }
    }

    /// Applies directories' modes and mtimes, deepest first (writing into a directory changes its
    /// mtime), once everything is in place.
    private func finishDirectories() async throws {
        guard let user else { return }
        let finishing = entries.filter { $0.kind == .directory }.compactMap { entry in
            directories[entry.path.string].map { (path: $0, entry: entry) }
        }.sorted { $0.path.components.count > $1.path.components.count }
        guard !finishing.isEmpty else { return }
        let endpointDirectory = endpoint.directory
        do {
            try await user.receive { () throws(ReceiveError) in
                let directory = try ReceiveDirectory(opening: endpointDirectory)
                for item in finishing {
                    try directory.finishDirectory(
                        item.path, offeredMode: item.entry.mode,
                        mtime: ReceiveTime(seconds: item.entry.mtimeSeconds, nanoseconds: item.entry.mtimeNanoseconds))
                }
            }
        } catch {
            // The files are delivered; a directory's mode or mtime is not worth failing for.
            logger.warning("cannot apply directory attributes", metadata: ["error": "\(error)"])
        }
    }

    /// Makes the current file's data durable and records how much of it a retry may keep.
    private func checkpoint() throws {
        guard let current, let token else { return }
        do {
            try Beneath.sync(current.file.fd, what: "partial file \(current.file.name)")
        } catch {
            try fileFailed(current.index, error)
            return
        }
        let length = current.file.length
        do {
            try context.resume.checkpoint(
                endpoint: endpoint.number, token: token, path: entries[Int(current.index)].path.string, durable: length,
                now: Clock.nowMicroseconds)
        } catch {
            logger.warning("cannot record a resume point", metadata: ["error": "\(error)"])
        }
        self.current?.checkpointed = length
    }

    // MARK: The channel

    /// The next record, checked by the session rules. A violation before ACCEPT is refused with its
    /// code; after it, answered with CANCEL(protocol error). The sender's CANCEL ends the session.
    private func receiveChecked() async throws -> Record {
        let record: Record
        do {
            record = try await channel.receive()
            try validator.received(record)
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
            throw Ending.lost("while sending: \(error)")
        }
    }

    // MARK: The end

    private func finish(_ outcome: Ending?) async {
        switch outcome {
        case nil:
            await conclude(state: failures == 0 ? .done : .failed, error: failures == 0 ? "" : summaryOfFailures)
            if let token {
                try? context.resume.complete(endpoint: endpoint.number, token: token, now: Clock.nowMicroseconds)
            }
            await removePartialArea()
            logger.info("incoming transfer finished", metadata: ["failed_files": "\(failures)"])
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
        case .cancelledBySender(let code):
            await forgetTransfer()
            logger.notice("the sender cancelled the transfer", metadata: ["code": "\(code)"])
            await conclude(state: .cancelled, error: "cancelled by the sender (\(code))")
        case .lost(let reason):
            // Keep what is verified for a retry: publish finished files, checkpoint the current one.
            try? await flush()
            try? checkpoint()
            logger.notice("incoming transfer interrupted", metadata: ["reason": "\(reason)"])
            await conclude(state: .failed, error: "interrupted: \(reason); the sender can retry and resume")
        }
        await channel.close()
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
        current = nil
        pending = []
        await removePartialArea()
        if let token { try? context.resume.forget(endpoint: endpoint.number, token: token) }
    }

    private func removePartialArea() async {
        guard let area, let user else { return }
        self.area = nil
        do {
            try await user.receive { () throws(ReceiveError) in try area.remove() }
        } catch {
            logger.warning("cannot remove partial data", metadata: ["error": "\(error)"])
        }
    }
}
