import S2SProtocol

/// The receiver's decision on one offer, as values only (docs/protocol.md, "Resume" and REFUSE):
/// the resume record of each entry (its partial file's slot, how much of it a retry may keep, where
/// it was delivered), the endpoint's quota, the free-space reserve, and the ACCEPT's resume points.
///
/// It does no I/O and knows no actor: the session gathers the facts (the token's resume records,
/// the endpoint's counters, the bytes other transfers reserve, the partial files' lengths, the
/// free space) and acts on the plan, so every rule here is unit-tested without sockets or disks
/// (`OfferPlanTests`).
struct OfferPlan: Sendable {
    /// The offer's entries, in offer order (an entry's index is its position).
    let entries: [OfferEntry]
    /// One resume record per entry, in offer order: the one held for the same path if it is the
    /// same file (kind, size, mtime), else a new one that keeps the path's slot.
    private(set) var records: [ResumeStore.Entry]
    /// The offer's file entries (counted once: FILE_END asks for every file).
    let fileCount: Int
    /// Bytes of the files not delivered yet, resumed prefixes included: what quota and space must
    /// allow before resume points are verified.
    let neededBytes: UInt64
    /// Files delivered by an earlier session under this token (COMPLETE), and their bytes.
    private(set) var completeFiles: UInt64
    private(set) var completeBytes: UInt64
    /// The resume points the records claim, by entry index; they count only once the partial area
    /// shows it still holds those bytes (``usableOffsets(partialLength:)``).
    let recordedOffsets: [UInt32: UInt64]
    /// The resume offsets the partial area backs, by entry index (set by ``settle(usable:published:)``).
    private(set) var resumeOffsets: [UInt32: UInt64] = [:]
    /// Files published just before a daemon stopped, now counted as delivered (set by ``settle``).
    private(set) var recovered: [(path: String, publishedAs: String)] = []
    private(set) var recoveredBytes: UInt64 = 0
    /// The ACCEPT's resume pairs, in index order (set by ``settle``).
    private(set) var resumePoints: [ResumePoint] = []

    /// The records held for a token count only if they were made with the offer's digest.
    static func held(_ known: ResumeStore.Transfer?, digest: UInt8) -> ResumeStore.Transfer? {
        known?.digest == digest ? known : nil
    }

    /// Plans each entry against what is held for the token (`known`, nil for a new transfer).
    init(entries: [OfferEntry], known: ResumeStore.Transfer?) {
        self.entries = entries
        var nextSlot = (known?.entries.values.map(\.slot).max()).map { $0 + 1 } ?? 0
        var fileCount = 0
        var needed: UInt64 = 0
        var complete: UInt64 = 0
        var completeBytes: UInt64 = 0
        var recorded: [UInt32: UInt64] = [:]
        records = entries.enumerated().map { index, entry in
            var record: ResumeStore.Entry
            let held = known?.entries[PathKey(entry.path.string)]
            if let held, held.matches(entry) {
                record = held
            } else {
                record = ResumeStore.Entry(
                    path: entry.path.string, kind: entry.kind, size: entry.size, mtimeSeconds: entry.mtimeSeconds,
                    mtimeNanoseconds: entry.mtimeNanoseconds,
                    slot: held?.slot ?? { defer { nextSlot += 1 }; return nextSlot }())
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
        self.fileCount = fileCount
        neededBytes = needed
        completeFiles = complete
        self.completeBytes = completeBytes
        recordedOffsets = recorded
    }

    // MARK: Limits

    /// Quota: what was delivered (`received`), plus what other transfers into this endpoint may
    /// still bring (`reserved`), plus this offer's needs must stay within `quota` (nil: none).
    func checkQuota(received: UInt64, reserved: UInt64, quota: UInt64?) throws(OfferRefusal) {
        let (used, overflow) = received.addingReportingOverflow(reserved)
        do {
            try ReceiveDirectory.checkQuota(used: overflow ? .max : used, adding: neededBytes, quota: quota)
        } catch {
            throw OfferRefusal(.quotaExceeded, error.message)
        }
    }

    /// Free space: `available` bytes must leave `reserve` free after the bytes still to come (the
    /// needed bytes less the `usable` resumed prefixes). Throws `.insufficientSpace` (REFUSE 3),
    /// as the file system's own checks do on the owner's thread where it runs.
    func checkSpace(available: UInt64, reserve: UInt64, usable: [UInt32: UInt64]) throws(ReceiveError) {
        try ReceiveDirectory.checkSpace(available: available, adding: neededBytes - min(neededBytes, usable.values.reduce(0, &+)), reserve: reserve)
    }

    // MARK: What the partial area still holds

    /// The recorded resume points that the partial files still back: one counts only if its
    /// partial file (`partialLength` of its slot; nil: none) holds at least those bytes.
    func usableOffsets(partialLength: (UInt32) throws(ReceiveError) -> UInt64?) throws(ReceiveError) -> [UInt32: UInt64] {
        var usable = recordedOffsets
        for (index, offset) in recordedOffsets {
            let length = try partialLength(records[Int(index)].slot) ?? 0
            if length < offset { usable[index] = nil }
        }
        return usable
    }

    /// The files marked as being published whose partial file is gone: renamed to their final name
    /// by a daemon killed before it could record the delivery.
    func publishedBeforeStop(partialLength: (UInt32) throws(ReceiveError) -> UInt64?) throws(ReceiveError) -> Set<Int> {
        let publishing = records.indices.filter {
            entries[$0].kind == .file && records[$0].deliveredPath == nil && records[$0].publishing
        }
        var published: Set<Int> = []
        for index in publishing where try partialLength(records[index].slot) == nil {
            published.insert(index)
        }
        return published
    }

    /// Takes in what the partial area holds: the `usable` resume offsets and the files `published`
    /// before a stop (now delivered); sets ``resumeOffsets``, ``recovered`` and ``resumePoints``,
    /// and the records a later retry resumes from.
    mutating func settle(usable: [UInt32: UInt64], published: Set<Int>) {
        resumeOffsets = usable
        for index in published.sorted() {
            // Where exactly (the offered name or one with a suffix) is not known; the offered
            // path stands for it. What matters is that it is not delivered twice.
            records[index].deliveredPath = entries[index].path.string
            records[index].publishing = false
            recovered.append((entries[index].path.string, entries[index].path.string))
            recoveredBytes += entries[index].size
            completeFiles += 1
            completeBytes += entries[index].size
        }
        // Resume pairs in index order; the records say what a later retry may resume.
        resumePoints = []
        for index in records.indices where entries[index].kind == .file {
            if records[index].deliveredPath != nil {
                resumePoints.append(ResumePoint(entry: UInt32(index), position: .complete))
            } else {
                let offset = resumeOffsets[UInt32(index)]
                records[index].durable = offset ?? 0
                if let offset { resumePoints.append(ResumePoint(entry: UInt32(index), position: .offset(offset))) }
            }
        }
    }

    /// Bytes the accepted transfer starts with: the resumed prefixes.
    var resumedBytes: UInt64 { resumeOffsets.values.reduce(0, +) }

    // MARK: During the transfer

    /// The partial file's slot of entry `index`.
    func slot(_ index: UInt32) -> UInt32 { records[Int(index)].slot }

    /// Records that entry `index` was published as `path`.
    mutating func delivered(_ index: UInt32, as path: String) {
        records[Int(index)].deliveredPath = path
    }

    /// The next files after `index` (entry and slot), at most `limit`, that the sender will send
    /// from 0: not delivered, not resumed, not in `created`.
    func upcomingFiles(after index: UInt32, limit: Int, created: (UInt32) -> Bool) -> [(UInt32, UInt32)] {
        var upcoming: [(UInt32, UInt32)] = []
        var next = Int(index) + 1
        while upcoming.count < limit, next < entries.count {
            let entry = UInt32(next)
            if entries[next].kind == .file, records[next].deliveredPath == nil, resumeOffsets[entry] == nil, !created(entry) {
                upcoming.append((entry, records[next].slot))
            }
            next += 1
        }
        return upcoming
    }
}

/// Why an offer is refused: the code the sender learns (REFUSE) and the reason that only the log
/// and the endpoint's owner see.
struct OfferRefusal: Error, Equatable {
    let code: RefuseCode
    let reason: String

    init(_ code: RefuseCode, _ reason: String) {
        self.code = code
        self.reason = reason
    }
}
