import S2SProtocol

/// The file-system side of one accepted incoming transfer: the transfer's partial area, the
/// offered directories, the partial files (created ahead, written, checkpointed, discarded), and
/// the batched sync and publication of verified files.
///
/// It works as the endpoint's owner (through the session's `UserWorker`) and knows nothing of the
/// channel, the resume records or the transfer's progress: the session (`ReceiveSession`) decides
/// and records, the sink touches the disk. Used by one task, as its session is.
final class ReceiveSink {
    /// Partial files created ahead, in one hop to the owner's thread, for the files the sender
    /// sends next (it sends them in offer order). One hop per file was a fifth of the receiver's
    /// time on a tree of small files.
    static let createAhead = 16
    /// A file being received is made durable (and its resume point recorded) every this many bytes.
    static let checkpointBytes: UInt64 = 256 << 20
    /// ... or every this long, once it has grown by ``checkpointMinimumBytes``: a receiver that
    /// crashes loses at most a few seconds of transfer, whatever the rate. At full speed the
    /// byte bound comes first, so the fast path syncs no more often than before.
    static let checkpointInterval: Duration = .seconds(2)
    static let checkpointMinimumBytes: UInt64 = 1 << 20

    private let user: UserWorker
    private let algorithm: FileDigest.Algorithm
    /// The transfer's partial area; nil once removed.
    private var area: PartialArea?
    /// The offered directories as made beneath the endpoint, by offered path.
    let directories: [RelativePath: ReceivePath]
    /// The file being written, and how many of its bytes were last made durable.
    var current: (index: UInt32, file: PartialFile, checkpointed: UInt64, at: ContinuousClock.Instant)?
    /// Partial files created ahead of their data (``createAhead``), by entry index.
    private var created: [UInt32: PartialFile] = [:]
    /// A creation ahead under way on the owner's thread (``keepCreatingAhead(_:)``): its entries,
    /// and its files to come.
    private var creating: (entries: Set<UInt32>, files: PendingResult<Result<[(UInt32, PartialFile)], ReceiveError>>)?
    /// The flushes' worker, once there was one (``publishingWorker``).
    private var publisher: UserWorker?

    private init(user: UserWorker, algorithm: FileDigest.Algorithm, area: PartialArea, directories: [RelativePath: ReceivePath]) {
        self.user = user
        self.algorithm = algorithm
        self.area = area
        self.directories = directories
    }

    /// What the endpoint holds for an accepted offer, found as its owner in one hop: the sink
    /// (partial area opened, offered directories made), the recorded resume offsets that the
    /// partial files still back, and the files published before a stop
    /// (`OfferPlan.usableOffsets`, `publishedBeforeStop`). Checks the free space
    /// (`OfferPlan.checkSpace`) before making any directory, the transfer's partial directory
    /// included: a refused new offer leaves nothing behind.
    static func prepare(
        user: UserWorker, endpointDirectory: EndpointDirectory, token: TransferToken, algorithm: FileDigest.Algorithm,
        plan: OfferPlan, paths: [Int: ReceivePath], reserve: UInt64
    ) async throws(ReceiveError) -> (sink: ReceiveSink, usable: [UInt32: UInt64], published: Set<Int>) {
        let (area, directories, usable, published) = try await user.receive { () throws(ReceiveError) in
            let directory = try ReceiveDirectory(opening: endpointDirectory)
            let existing = try directory.existingPartialArea(token.partialAreaName)
            var usable: [UInt32: UInt64] = [:]
            var published: Set<Int> = []
            if let existing {
                usable = try plan.usableOffsets(partialLength: existing.partialLength(index:))
                published = try plan.publishedBeforeStop(partialLength: existing.partialLength(index:))
            }
            try plan.checkSpace(available: try directory.availableBytes(), reserve: reserve, usable: usable)
            let area: PartialArea
            if let existing {
                area = existing
            } else {
                area = try directory.openPartialArea(token.partialAreaName)
            }
            var made: [RelativePath: ReceivePath] = [:]
            for (index, entry) in plan.entries.enumerated() where entry.kind == .directory {
                let parent = entry.path.parent.flatMap { made[$0] }
                guard let path = paths[index] else { throw ReceiveError(.invalidPath, "directory \(entry.path) was not checked") }
                made[entry.path] = try directory.makeDirectory(path.name, in: parent)
            }
            // The new entries, durable before anything is published into them: one sync for all.
            try directory.sync(Set(made.values.map(\.parent)))
            return (area, made, usable, published)
        }
        return (ReceiveSink(user: user, algorithm: algorithm, area: area, directories: directories), usable, published)
    }

    // MARK: Partial files

    var hasArea: Bool { area != nil }

    /// Whether the partial file of entry `index` was created ahead, or is being created, and was
    /// not taken yet.
    func isCreated(_ index: UInt32) -> Bool { created[index] != nil || creating?.entries.contains(index) == true }

    /// The partial file created ahead for entry `index`, if any (waiting for the creation under
    /// way if it is one of its files); it is no longer held here.
    func takeCreated(_ index: UInt32) async -> PartialFile? {
        if created[index] == nil, creating?.entries.contains(index) == true { await settleCreating() }
        return created.removeValue(forKey: index)
    }

    /// Keeps partial files created ahead of the session: once fewer than half of
    /// ``createAhead`` wait, starts creating the next `upcoming(count)` (entry, slot) on the
    /// owner's thread, as many as bring them back to ``createAhead``, unless a creation is under
    /// way. The session goes on writing meanwhile; waiting for each hop cost it the time of every
    /// create.
    func keepCreatingAhead(_ upcoming: (_ count: Int) -> [(UInt32, UInt32)]) {
        guard creating == nil, created.count < Self.createAhead / 2, let area else { return }
        let ahead = upcoming(Self.createAhead - created.count)
        guard !ahead.isEmpty else { return }
        let algorithm = self.algorithm
        let files = user.startReceiving { () throws(ReceiveError) in Self.createFiles(ahead, in: area, algorithm: algorithm) }
        creating = (Set(ahead.map(\.0)), files)
    }

    /// Creates the partial files of `ahead` (entry, slot), as the owner, in order until one
    /// cannot be (it and those after it are created when their data comes).
    private static func createFiles(_ ahead: [(UInt32, UInt32)], in area: PartialArea, algorithm: FileDigest.Algorithm) -> [(UInt32, PartialFile)] {
        var made: [(UInt32, PartialFile)] = []
        for (entry, slot) in ahead {
            guard let file = try? area.createFile(index: slot, algorithm: algorithm) else { break }
            made.append((entry, file))
        }
        return made
    }

    /// Takes the files of the creation under way, once it is done; those it could not create are
    /// created when their data comes.
    private func settleCreating() async {
        guard let creating else { return }
        self.creating = nil
        if case .success(let made) = await creating.files.value() {
            for (entry, file) in made { created[entry] = file }
        }
    }

    /// Creates the partial file in `slot` (or continues it from `offset`), with those `ahead`
    /// (entry, slot) that can be created now; the others are tried again when their data comes.
    func create(slot: UInt32, offset: UInt64, ahead: [(UInt32, UInt32)]) async throws(ReceiveError) -> PartialFile {
        guard let area else { throw ReceiveError(.writeFailed, "no partial area") }
        let algorithm = self.algorithm
        let (file, more) = try await user.receive { () throws(ReceiveError) in
            let file =
                offset > 0
                ? try area.resumeFile(index: slot, at: offset, algorithm: algorithm)
                : try area.createFile(index: slot, algorithm: algorithm)
            return (file, Self.createFiles(ahead, in: area, algorithm: algorithm))
        }
        for (entry, made) in more { created[entry] = made }
        return file
    }

    /// Writes received bytes into a partial file.
    func write(_ bytes: ArraySlice<UInt8>, to file: PartialFile, at offset: UInt64) throws(ReceiveError) {
        let result = bytes.withUnsafeBytes { raw in Result { () throws(ReceiveError) in try file.write(raw, at: offset) } }
        try result.get()
    }

    /// The checkpoint policy: whether the current file has grown by ``checkpointBytes`` since its
    /// bytes were last made durable, or by ``checkpointMinimumBytes`` over ``checkpointInterval``.
    func checkpointDue(now: ContinuousClock.Instant) -> Bool {
        guard let current else { return false }
        let grown = current.file.length - current.checkpointed
        return grown >= Self.checkpointBytes || (grown >= Self.checkpointMinimumBytes && now - current.at >= Self.checkpointInterval)
    }

    /// Makes the current file's data durable.
    func syncCurrent() throws(ReceiveError) {
        guard let current else { return }
        try Beneath.sync(current.file.fd, what: "partial file \(current.file.name)")
    }

    /// Drops the current file's data if it is entry `index`.
    func discardCurrent(ifEntry index: UInt32) {
        if let current, current.index == index {
            discard(current.file)
            self.current = nil
        }
    }

    /// Drops whatever is held for entry `index`: the current file and one created ahead.
    func abandon(_ index: UInt32) async {
        if creating?.entries.contains(index) == true { await settleCreating() }
        discardCurrent(ifEntry: index)
        if let file = created.removeValue(forKey: index) { discard(file) }
    }

    /// Drops a partial file's data.
    func discard(_ file: PartialFile) {
        file.fail()
        // A partial file's index is its slot.
        try? area?.removeFile(index: file.slot)
    }

    /// Removes the partial file in `slot`, if any.
    func removeFile(slot: UInt32) {
        try? area?.removeFile(index: slot)
    }

    // MARK: Publishing

    /// Starts a flush's disk work (``BatchFlush``) and returns at once: the session receives the
    /// next batch meanwhile, and the work runs on the publishing worker. A last flush (syncing
    /// the names), which the session waits for, runs on the first worker: a transfer of one file
    /// needs no second thread. `record` notes the files to publish in the resume records, between
    /// the sync and the renames.
    func startFlush(
        _ flush: BatchFlush, record: @escaping @Sendable (_ publishing: [String], _ delivered: RenamedBatch?) throws -> Void
    ) -> PendingResult<Result<BatchFlush.Outcome, ReceiveError>> {
        guard let area else {
            let pending = PendingResult<Result<BatchFlush.Outcome, ReceiveError>>()
            pending.complete(.failure(ReceiveError(.writeFailed, "no partial area")))
            return pending
        }
        let worker = flush.syncingNames ? user : publishingWorker
        return worker.startReceiving { () throws(ReceiveError) in flush.run(in: area, record: record) }
    }

    /// A second thread acting as the owner, for the flushes: on the first one, partial files
    /// would wait to be created behind a whole batch's sync and renames. The first worker if a
    /// thread cannot be had (flushes then only wait their turn).
    private var publishingWorker: UserWorker {
        if let publisher { return publisher }
        let worker = (try? UserWorker(user.user)) ?? user
        publisher = worker
        return worker
    }

    /// Applies the offered directories' modes and mtimes, deepest first (writing into a directory
    /// changes its mtime), once everything is in place.
    func finishDirectories(_ entries: [OfferEntry], endpointDirectory: EndpointDirectory) async throws(ReceiveError) {
        let finishing = entries.filter { $0.kind == .directory }.compactMap { entry in
            directories[entry.path].map { (path: $0, entry: entry) }
        }.sorted { $0.path.components.count > $1.path.components.count }
        guard !finishing.isEmpty else { return }
        try await user.receive { () throws(ReceiveError) in
            let directory = try ReceiveDirectory(opening: endpointDirectory)
            for item in finishing {
                try directory.finishDirectory(
                    item.path, offeredMode: item.entry.mode,
                    mtime: ReceiveTime(seconds: item.entry.mtimeSeconds, nanoseconds: item.entry.mtimeNanoseconds))
            }
            try directory.sync(Set(finishing.map(\.path)))
        }
    }

    /// Ends the publishing worker's thread once its jobs have run (the session ends).
    func stop() {
        publisher?.stop()
    }

    /// Removes the partial area and everything in it (the transfer ended or was forgotten).
    func removeArea() async throws(ReceiveError) {
        guard let area else { return }
        self.area = nil
        try await user.receive { () throws(ReceiveError) in try area.remove() }
    }
}
