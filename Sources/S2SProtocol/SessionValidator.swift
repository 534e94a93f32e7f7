/// The session state machine of docs/protocol.md ("State machine"), which both sides drive: feed
/// it every record received (``received(_:)``) and every record about to be sent
/// (``sending(_:)``), and it throws for anything out of order or inconsistent with earlier records.
///
/// It tracks both directions in one state because each record a side receives was caused by
/// records that side sent before (TCP keeps each direction in order), so the same rules hold on
/// both ends. It checks what the decoder cannot, because it needs earlier records: entry counts and
/// totals, duplicate paths and missing parents, the offer's path budget, resume pairs, that files
/// go in index order with contiguous DATA within their sizes, digest lengths, and that each file
/// gets exactly one FILE_RESULT, in order.
///
/// A record that throws changes nothing. Once the session has ended (REFUSE, CANCEL, DONE_ACK) every
/// further record throws ``ProtocolError/sessionEnded(_:)``: a side that sent the final record only
/// drains the connection and does not interpret what still arrives.
///
/// Memory: a few bytes per entry, plus the offer's paths (bounded by
/// ``ProtocolLimits/maxOfferPathBytes``) until OFFER_END.
public struct SessionValidator: Sendable {
    /// Where the session is (docs/protocol.md, state table).
    public enum Phase: Sendable, Hashable, CustomStringConvertible {
        /// Handshake done; the sender has not begun its offer.
        case awaitingOffer
        /// Between OFFER_BEGIN and OFFER_END.
        case offering
        /// After OFFER_END, until ACCEPT or REFUSE.
        case awaitingAnswer
        /// After an ACCEPT that announced more resume pairs than it carried, until the last
        /// ACCEPT_MORE.
        case accepting
        /// Files flow: DATA, FILE_END, FILE_ABORT one way, FILE_RESULT the other, until DONE.
        case transferring
        /// After DONE, until DONE_ACK.
        case finishing
        /// After REFUSE, CANCEL or DONE_ACK.
        case ended

        public var description: String {
            switch self {
            case .awaitingOffer: "awaiting offer"
            case .offering: "offering"
            case .awaitingAnswer: "awaiting answer"
            case .accepting: "accepting"
            case .transferring: "transferring"
            case .finishing: "finishing"
            case .ended: "ended"
            }
        }
    }

    /// How an ended session ended.
    public enum Outcome: Sendable, Hashable {
        /// The receiver refused the offer.
        case refused(RefuseCode)
        /// `by` cancelled the session.
        case cancelled(CancelCode, by: ProtocolRole)
        /// DONE_ACK: every file has its FILE_RESULT (which may still report failures).
        case done
    }

    private struct EntryState: Sendable {
        var kind: EntryKind
        var size: UInt64
        /// Where the file's data starts: its resume offset, or ``ResumePoint/completeMarker``.
        var start: UInt64 = 0

        var isPending: Bool { kind == .file && start != ResumePoint.completeMarker }
    }

    private struct CurrentFile: Sendable {
        var index: UInt32
        var next: UInt64
    }

    /// Which side this validator belongs to.
    public let role: ProtocolRole
    /// This side's limits (entries, offer path bytes; and the record size for ``receive(_:)``).
    /// They apply to offers in both roles, so a sender passes limits at least as large as what it
    /// offers; the receiver's own limits are what count.
    public let limits: ProtocolLimits
    public private(set) var phase: Phase = .awaitingOffer
    /// The sides whose CANDIDATES went by.
    private var candidatesExchanged: Set<ProtocolRole> = []
    /// Set when ``phase`` becomes ``Phase/ended``.
    public private(set) var outcome: Outcome?
    /// From OFFER_BEGIN.
    public private(set) var token: TransferToken?
    /// From OFFER_BEGIN.
    public private(set) var digestAlgorithm: DigestAlgorithm?
    /// From OFFER_BEGIN.
    public private(set) var entryCount: UInt32 = 0
    /// From OFFER_BEGIN.
    public private(set) var totalBytes: UInt64 = 0

    private var entries: [EntryState] = []
    private var paths: [RelativePath: EntryKind] = [:]
    private var pathBytes = 0
    private var sizeSum: UInt64 = 0
    private var resumeAnnounced: UInt32 = 0
    private var resumeSeen: UInt32 = 0
    private var lastResumeIndex: Int64 = -1
    private var cursor = 0
    private var current: CurrentFile?
    /// Whether the sender carries its transfer records in SEQ (decided by its first one after
    /// ACCEPT; docs/protocol.md, "Striped sessions"), and the sequence number the next must have.
    private var sequencing: Bool?
    private var nextSequence: UInt64 = 0
    private var stripesOffered = false
    private var pendingFiles = 0
    private var awaitingResults: [UInt32] = []
    private var resultHead = 0

    public init(role: ProtocolRole, limits: ProtocolLimits = .default) {
        self.role = role
        self.limits = limits
    }

    /// Whether the receiver may still answer with REFUSE: a receiver that finds an error now
    /// replies REFUSE(``ProtocolError/refuseCode``) before closing; later, CANCEL(protocol error).
    public var canRefuse: Bool {
        phase == .awaitingOffer || phase == .offering || phase == .awaitingAnswer
    }

    /// Files that have had FILE_END or FILE_ABORT but no FILE_RESULT yet.
    public var resultsOutstanding: Int { awaitingResults.count - resultHead }

    /// Files still to be sent (neither ended nor complete from an earlier session), once accepted.
    public var filesRemaining: Int { pendingFiles }

    /// Decodes a received record with this side's limits and checks it.
    public mutating func receive(_ bytes: ArraySlice<UInt8>) throws(ProtocolError) -> Record {
        let record = try Record.decode(bytes, limits: limits)
        try received(record)
        return record
    }

    /// Checks a record the peer sent.
    public mutating func received(_ record: Record) throws(ProtocolError) {
        try apply(record, from: role.peer)
    }

    /// Checks a record this side is about to send. Besides the session rules, every record but
    /// DATA is run through the decoder, so this side never sends what a peer with the same limits
    /// would reject; DATA is checked without copying its bytes.
    public mutating func sending(_ record: Record) throws(ProtocolError) {
        if case .data(_, _, let bytes) = record {
            guard !bytes.isEmpty else { throw .emptyData }
        } else {
            var limits = self.limits
            limits.maxRecordSize = ProtocolLimits.maxRecordSizeCeiling
            _ = try Record.decode(record.encoded(), limits: limits)
        }
        try apply(record, from: role)
    }

    /// ``sending(_:)`` for a DATA record of `count` bytes (inside SEQ `sequence`, if given) that
    /// is sealed straight from a buffer, without building a ``Record``.
    public mutating func sendingData(entry: UInt32, offset: UInt64, count: Int, sequence: UInt64? = nil) throws(ProtocolError) {
        let type: RecordType = sequence == nil ? .data : .sequenced
        guard phase != .ended else { throw .sessionEnded(type) }
        guard role == .sender else { throw .unexpectedRecord(type, phase: phase) }
        guard count > 0 else { throw .emptyData }
        try checkSequence(sequence, inner: .data)
        try data(entry: entry, offset: offset, count: count)
    }

    /// Whether the sender's records after ACCEPT come in SEQ; nil until the first of them.
    public var isSequenced: Bool? { sequencing }

    /// A sender's transfer record: in SEQ (`sequence`) or bare (nil), as its first one decided,
    /// and in SEQ with consecutive numbers from 0.
    private mutating func checkSequence(_ sequence: UInt64?, inner: RecordType) throws(ProtocolError) {
        guard phase == .transferring else { throw .unexpectedRecord(sequence == nil ? inner : .sequenced, phase: phase) }
        let sequenced = sequence != nil
        if sequencing == nil { sequencing = sequenced }
        guard sequencing == sequenced else { throw .sequencingChanged(inner) }
        guard let sequence else { return }
        guard sequence == nextSequence else { throw .wrongSequence(expected: nextSequence, actual: sequence) }
        nextSequence += 1
    }

    private mutating func data(entry index: UInt32, offset: UInt64, count: Int) throws(ProtocolError) {
        guard phase == .transferring else { throw .unexpectedRecord(.data, phase: phase) }
        var file = try fileFor(index)
        guard offset == file.next else { throw .wrongOffset(entry: index, expected: file.next, actual: offset) }
        let size = entries[Int(index)].size
        guard count > 0, UInt64(count) <= size - offset else { throw .dataBeyondSize(entry: index) }
        file.next += UInt64(count)
        current = file
        cursor = Int(index) + 1
    }

    /// - Parameter inSequence: `record` came inside a SEQ that was already checked.
    private mutating func apply(_ record: Record, from party: ProtocolRole, inSequence: Bool = false) throws(ProtocolError) {
        guard phase != .ended else { throw .sessionEnded(record.type) }
        if let only = record.type.sentBy, only != party {
            throw .unexpectedRecord(record.type, phase: phase)
        }
        if record.isSequenced, party == .sender, !inSequence {
            try checkSequence(nil, inner: record.type)
        }
        switch record {
        case .keepalive:
            return
        case .sequenced(let number, let inner):
            try checkSequence(number, inner: inner.type)
            try apply(inner, from: party, inSequence: true)
        case .stripes:
            // Sent right after ACCEPT; a sender with nothing left to send may have sent DONE by then.
            try expect((phase == .transferring || phase == .finishing) && !stripesOffered, record)
            stripesOffered = true
        case .join, .joined:
            // A stripe's own records: never part of the session it joins.
            throw .unexpectedRecord(record.type, phase: phase)
        case .candidates:
            // Before the offer, once each way, the receiver's first (docs/protocol.md, "Relay to direct").
            let first = party == .receiver ? candidatesExchanged.isEmpty : candidatesExchanged == [.receiver]
            try expect(phase == .awaitingOffer && first, record)
            candidatesExchanged.insert(party)
        case .cancel(let code):
            end(.cancelled(code, by: party))
        case .refuse(let code):
            try expect(canRefuse, record)
            end(.refused(code))
        case .offerBegin(let token, let digest, let count, let total):
            try expect(phase == .awaitingOffer, record)
            guard count > 0 else { throw .emptyOffer }
            guard count <= limits.maxEntries else { throw .tooManyEntries(count: UInt64(count), limit: limits.maxEntries) }
            guard total <= ProtocolLimits.maxFileSize else { throw .sizeOutOfRange(field: "total bytes", value: total) }
            self.token = token
            digestAlgorithm = digest
            entryCount = count
            totalBytes = total
            entries.reserveCapacity(Int(min(count, 65_536)))
            phase = .offering
        case .entry(let entry):
            try offer(entry, record)
        case .offerEnd:
            try expect(phase == .offering, record)
            guard entries.count == entryCount else {
                throw .missingEntries(announced: entryCount, received: UInt32(entries.count))
            }
            guard sizeSum == totalBytes else { throw .totalMismatch(announced: totalBytes) }
            paths = [:]
            phase = .awaitingAnswer
        case .accept(let count, let resume):
            try expect(phase == .awaitingAnswer, record)
            guard count <= entryCount, resume.count <= count else { throw .badResumeCount }
            try check(resume)
            resumeAnnounced = count
            apply(resume)
        case .acceptMore(let resume):
            try expect(phase == .accepting, record)
            guard !resume.isEmpty, UInt64(resume.count) <= UInt64(resumeAnnounced - resumeSeen) else {
                throw .badResumeCount
            }
            try check(resume)
            apply(resume)
        case .data(let index, let offset, let bytes):
            try data(entry: index, offset: offset, count: bytes.count)
        case .fileEnd(let index, let digest):
            try expect(phase == .transferring, record)
            let file = try fileFor(index)
            if let algorithm = digestAlgorithm, digest.count != algorithm.digestLength {
                throw .badDigestLength(digest.count)
            }
            let size = entries[Int(index)].size
            guard file.next == size else { throw .fileIncomplete(entry: index, received: file.next, size: size) }
            finishFile(index)
        case .fileAbort(let index):
            try expect(phase == .transferring, record)
            _ = try fileFor(index)
            finishFile(index)
        case .done:
            try expect(phase == .transferring, record)
            guard current == nil, pendingFiles == 0 else { throw .unfinishedFiles(pendingFiles) }
            phase = .finishing
        case .fileResult(let index, _):
            try expect(phase == .transferring || phase == .finishing, record)
            let expected = resultHead < awaitingResults.count ? awaitingResults[resultHead] : nil
            guard expected == index else { throw .wrongResult(expected: expected, actual: index) }
            resultHead += 1
            if resultHead == awaitingResults.count {
                awaitingResults.removeAll(keepingCapacity: true)
                resultHead = 0
            }
        case .doneAck:
            try expect(phase == .finishing, record)
            guard resultsOutstanding == 0 else { throw .unfinishedFiles(resultsOutstanding) }
            end(.done)
        }
    }

    private func expect(_ condition: Bool, _ record: Record) throws(ProtocolError) {
        guard condition else { throw .unexpectedRecord(record.type, phase: phase) }
    }

    private mutating func end(_ outcome: Outcome) {
        phase = .ended
        self.outcome = outcome
        paths = [:]
    }

    /// ENTRY: the index, path and size rules of the offer.
    private mutating func offer(_ entry: OfferEntry, _ record: Record) throws(ProtocolError) {
        try expect(phase == .offering && entries.count < entryCount, record)
        guard paths[entry.path] == nil else { throw .duplicatePath(entry.path.string) }
        if let parent = entry.path.parent, paths[parent] != .directory {
            throw .missingParent(entry.path.string)
        }
        let length = entry.path.byteCount
        guard length <= limits.maxOfferPathBytes - pathBytes else {
            throw .offerPathBytesExceeded(limit: limits.maxOfferPathBytes)
        }
        // Both are at most 2^63-1 (the decoder's bound), so the sum cannot overflow.
        guard entry.kind == .file || entry.size == 0 else { throw .directoryWithSize(entry.size) }
        guard entry.size <= ProtocolLimits.maxFileSize, sizeSum + entry.size <= totalBytes else {
            throw .totalMismatch(announced: totalBytes)
        }
        paths[entry.path] = entry.kind
        pathBytes += length
        sizeSum += entry.size
        entries.append(EntryState(kind: entry.kind, size: entry.size))
    }

    /// Resume pairs: strictly increasing indices, below the entry count, files only, offsets
    /// within the size.
    private func check(_ resume: [ResumePoint]) throws(ProtocolError) {
        var last = lastResumeIndex
        for point in resume {
            guard Int64(point.entry) > last else { throw .resumeOrder(point.entry) }
            guard point.entry < entryCount else { throw .entryIndexOutOfRange(point.entry, limit: Int(entryCount)) }
            let entry = entries[Int(point.entry)]
            guard entry.kind == .file else { throw .resumeForDirectory(point.entry) }
            if case .offset(let offset) = point.position, offset > entry.size {
                throw .resumeBeyondSize(entry: point.entry, offset: offset, size: entry.size)
            }
            last = Int64(point.entry)
        }
    }

    private mutating func apply(_ resume: [ResumePoint]) {
        for point in resume {
            entries[Int(point.entry)].start = point.wireOffset
        }
        if let last = resume.last { lastResumeIndex = Int64(last.entry) }
        resumeSeen += UInt32(resume.count)
        if resumeSeen == resumeAnnounced {
            pendingFiles = entries.reduce(0) { $0 + ($1.isPending ? 1 : 0) }
            phase = .transferring
        } else {
            phase = .accepting
        }
    }

    /// The file a DATA, FILE_END or FILE_ABORT for `index` continues or begins: the current file,
    /// or if there is none, the next file in index order that still needs sending.
    private mutating func fileFor(_ index: UInt32) throws(ProtocolError) -> CurrentFile {
        if let current {
            guard current.index == index else { throw .wrongEntry(expected: current.index, actual: index) }
            return current
        }
        while cursor < entries.count && !entries[cursor].isPending {
            cursor += 1
        }
        guard cursor < entries.count else { throw .wrongEntry(expected: nil, actual: index) }
        guard cursor == Int(index) else { throw .wrongEntry(expected: UInt32(cursor), actual: index) }
        return CurrentFile(index: index, next: entries[cursor].start)
    }

    private mutating func finishFile(_ index: UInt32) {
        current = nil
        cursor = Int(index) + 1
        pendingFiles -= 1
        awaitingResults.append(index)
    }
}
