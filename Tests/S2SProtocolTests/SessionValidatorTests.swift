import Testing
@testable import S2SProtocol

/// The state machine of docs/protocol.md: legal sessions pass on both sides, and every record out
/// of order or inconsistent with the ones before is refused with its named error.
struct SessionValidatorTests {
    typealias Step = (from: ProtocolRole, record: Record)

    /// Both sides' validators, fed the same records (as sent by one, received by the other).
    struct Pair {
        var sender = SessionValidator(role: .sender)
        var receiver = SessionValidator(role: .receiver)

        init(limits: ProtocolLimits = .default) {
            sender = SessionValidator(role: .sender, limits: limits)
            receiver = SessionValidator(role: .receiver, limits: limits)
        }

        mutating func run(_ steps: [Step]) throws(ProtocolError) {
            for step in steps {
                try feed(step.from, step.record)
            }
        }

        mutating func feed(_ from: ProtocolRole, _ record: Record) throws(ProtocolError) {
            switch from {
            case .sender:
                try sender.sending(record)
                try receiver.received(record)
            case .receiver:
                try receiver.sending(record)
                try sender.received(record)
            }
        }
    }

    static let xxh = Array(repeating: UInt8(0x11), count: 16)

    /// notes/ (dir), notes/a (5 bytes), notes/empty (0 bytes), notes/sub/ (dir), notes/sub/b (3 bytes).
    static let entries: [OfferEntry] = [
        .directory(Fixtures.path("notes")),
        .file(Fixtures.path("notes/a"), size: 5),
        .file(Fixtures.path("notes/empty"), size: 0),
        .directory(Fixtures.path("notes/sub")),
        .file(Fixtures.path("notes/sub/b"), size: 3),
    ]

    static func offer(_ entries: [OfferEntry] = entries, digest: DigestAlgorithm = .xxh3_128, total: UInt64? = nil)
        -> [Step]
    {
        let sum = entries.reduce(0) { $0 + $1.size }
        return [
            (
                .sender,
                .offerBegin(
                    token: Fixtures.token, digest: digest, entryCount: UInt32(entries.count), totalBytes: total ?? sum)
            )
        ] + entries.map { (.sender, .entry($0)) } + [(.sender, .offerEnd)]
    }

    /// A whole session without resume, with keepalives and pipelined results.
    static var fullSession: [Step] {
        offer() + [
            (.receiver, .keepalive),
            (.receiver, .accept(resumeCount: 0, resume: [])),
            (.sender, .data(entry: 1, offset: 0, bytes: [1, 2])),
            (.sender, .keepalive),
            (.sender, .data(entry: 1, offset: 2, bytes: [3, 4, 5])),
            (.sender, .fileEnd(entry: 1, digest: xxh)),
            (.sender, .fileEnd(entry: 2, digest: xxh)),
            (.receiver, .fileResult(entry: 1, .ok)),
            (.sender, .data(entry: 4, offset: 0, bytes: [1, 2, 3])),
            (.sender, .fileEnd(entry: 4, digest: xxh)),
            (.sender, .done),
            (.receiver, .fileResult(entry: 2, .ok)),
            (.receiver, .keepalive),
            (.receiver, .fileResult(entry: 4, .integrity)),
            (.receiver, .doneAck),
        ]
    }

    /// CANDIDATES: before the offer, the receiver's first, once each way; then the session as always.
    @Test func candidatesBeforeTheOffer() throws {
        let some = Record.candidates([DirectCandidate(ip: [198, 19, 0, 11], port: 40000)!])
        var pair = Pair()
        try pair.run([(.receiver, some), (.sender, .candidates([]))] + Self.fullSession)
        #expect(pair.receiver.outcome == .done)
        var senderFirst = Pair()
        #expect(throws: ProtocolError.self) { try senderFirst.feed(.sender, some) }
        var twice = Pair()
        try twice.feed(.receiver, some)
        #expect(throws: ProtocolError.self) { try twice.feed(.receiver, some) }
        var late = Pair()
        try late.run(Array(Self.fullSession.prefix(1)))
        #expect(throws: ProtocolError.self) { try late.feed(.receiver, some) }
    }

    @Test func legalSession() throws {
        var pair = Pair()
        #expect(pair.sender.phase == .awaitingOffer)
        try pair.run(Self.fullSession)
        for validator in [pair.sender, pair.receiver] {
            #expect(validator.phase == .ended)
            #expect(validator.outcome == .done)
            #expect(validator.token == Fixtures.token)
            #expect(validator.digestAlgorithm == .xxh3_128)
            #expect(validator.entryCount == 5)
            #expect(validator.totalBytes == 8)
        }
        #expect(throws: ProtocolError.sessionEnded(.keepalive)) { try pair.sender.received(.keepalive) }
        #expect(throws: ProtocolError.sessionEnded(.cancel)) { try pair.receiver.sending(.cancel(.cancelled)) }
    }

    /// The full session striped: STRIPES after ACCEPT, then every sender record but KEEPALIVE in
    /// SEQ, numbered from 0 without a gap; the validators see the merged order.
    static var stripedSession: [Step] {
        var sequence: UInt64 = 0
        return Self.fullSession.map { step in
            guard step.from == .sender, step.record.isSequenced else { return step }
            defer { sequence += 1 }
            return (.sender, .sequenced(sequence: sequence, step.record))
        }.flatMap { step -> [Step] in
            if case .accept = step.record { return [step, (.receiver, .stripes(extra: 3, secret: StripeSecret(unchecked: Array(0..<16))))] }
            return [step]
        }
    }

    @Test func stripedSessionIsLegal() throws {
        var pair = Pair()
        try pair.run(Self.stripedSession)
        #expect(pair.sender.outcome == .done && pair.receiver.outcome == .done)
        #expect(pair.receiver.isSequenced == true)
    }

    /// A sender with nothing to send (every file COMPLETE) sends DONE at once: the STRIPES the
    /// receiver sent right after ACCEPT arrives after it.
    @Test func stripesAfterAnImmediateDone() throws {
        var pair = Pair()
        try pair.run(Self.offer([.directory(Fixtures.path("d"))]) + [(.receiver, .accept(resumeCount: 0, resume: []))])
        try pair.sender.sending(.sequenced(sequence: 0, .done))
        try pair.receiver.sending(.stripes(extra: 1, secret: StripeSecret(unchecked: Array(0..<16))))
        try pair.sender.received(.stripes(extra: 1, secret: StripeSecret(unchecked: Array(0..<16))))
        try pair.receiver.received(.sequenced(sequence: 0, .done))
        try pair.feed(.receiver, .doneAck)
        #expect(pair.sender.outcome == .done)
    }

    @Test func stripedSessionRules() throws {
        let accepted = Self.offer() + [(ProtocolRole.receiver, Record.accept(resumeCount: 0, resume: []))]
        let data = { (offset: UInt64, bytes: [UInt8]) in Record.data(entry: 1, offset: offset, bytes: bytes[...]) }
        // A gap, a repeat.
        var pair = Pair()
        try pair.run(accepted)
        try pair.feed(.sender, .sequenced(sequence: 0, data(0, [1, 2])))
        #expect(throws: ProtocolError.wrongSequence(expected: 1, actual: 2)) {
            try pair.receiver.received(.sequenced(sequence: 2, data(2, [3])))
        }
        #expect(throws: ProtocolError.wrongSequence(expected: 1, actual: 0)) {
            try pair.receiver.received(.sequenced(sequence: 0, data(2, [3])))
        }
        // Bare after SEQ, SEQ after bare.
        #expect(throws: ProtocolError.sequencingChanged(.data)) { try pair.receiver.received(data(2, [3])) }
        #expect(throws: ProtocolError.sequencingChanged(.data)) {
            try pair.sender.sendingData(entry: 1, offset: 2, count: 1)
        }
        pair = Pair()
        try pair.run(accepted)
        try pair.feed(.sender, data(0, [1, 2]))
        #expect(throws: ProtocolError.sequencingChanged(.data)) {
            try pair.receiver.received(.sequenced(sequence: 0, data(2, [3])))
        }
        #expect(throws: ProtocolError.sequencingChanged(.data)) {
            try pair.sender.sendingData(entry: 1, offset: 2, count: 1, sequence: 0)
        }
        // SEQ before ACCEPT; STRIPES twice, or before ACCEPT; JOIN and JOINED never belong to a session.
        pair = Pair()
        try pair.run(Self.offer())
        #expect(throws: ProtocolError.unexpectedRecord(.sequenced, phase: .awaitingAnswer)) {
            try pair.receiver.received(.sequenced(sequence: 0, .done))
        }
        let stripes = Record.stripes(extra: 1, secret: StripeSecret(unchecked: Array(0..<16)))
        #expect(throws: ProtocolError.unexpectedRecord(.stripes, phase: .awaitingAnswer)) { try pair.sender.received(stripes) }
        try pair.feed(.receiver, .accept(resumeCount: 0, resume: []))
        try pair.feed(.receiver, stripes)
        #expect(throws: ProtocolError.unexpectedRecord(.stripes, phase: .transferring)) { try pair.sender.received(stripes) }
        #expect(throws: ProtocolError.unexpectedRecord(.join, phase: .transferring)) {
            try pair.receiver.received(.join(StripeSecret(unchecked: Array(0..<16))))
        }
        #expect(throws: ProtocolError.unexpectedRecord(.joined, phase: .transferring)) { try pair.sender.received(.joined) }
        // The rules inside SEQ are the session's: DATA at the wrong offset.
        #expect(throws: ProtocolError.wrongOffset(entry: 1, expected: 0, actual: 1)) {
            try pair.receiver.received(.sequenced(sequence: 0, data(1, [3])))
        }
    }

    @Test func phasesInOrder() throws {
        var pair = Pair()
        var phases: [SessionValidator.Phase] = []
        for step in Self.fullSession {
            try pair.feed(step.from, step.record)
            #expect(pair.sender.phase == pair.receiver.phase)
            if phases.last != pair.sender.phase { phases.append(pair.sender.phase) }
        }
        #expect(phases == [.offering, .awaitingAnswer, .transferring, .finishing, .ended])
    }

    @Test func resumedSession() throws {
        var pair = Pair()
        try pair.run(
            Self.offer() + [
                // entry 1: 2 of 5 bytes durable; entry 2 (empty) already delivered; entry 4 has all
                // its bytes but no verdict yet; split over ACCEPT and ACCEPT_MORE.
                (.receiver, .accept(resumeCount: 3, resume: [ResumePoint(entry: 1, position: .offset(2))])),
                (.receiver, .acceptMore([ResumePoint(entry: 2, position: .complete)])),
            ])
        #expect(pair.sender.phase == .accepting)
        #expect(throws: ProtocolError.unexpectedRecord(.data, phase: .accepting)) {
            try pair.sender.sending(.data(entry: 1, offset: 2, bytes: [3]))
        }
        try pair.run([
            (.receiver, .acceptMore([ResumePoint(entry: 4, position: .offset(3))])),
            (.sender, .data(entry: 1, offset: 2, bytes: [3, 4, 5])),
            (.sender, .fileEnd(entry: 1, digest: Self.xxh)),
            (.sender, .fileEnd(entry: 4, digest: Self.xxh)),
            (.sender, .done),
            (.receiver, .fileResult(entry: 1, .ok)),
            (.receiver, .fileResult(entry: 4, .ok)),
            (.receiver, .doneAck),
        ])
        #expect(pair.receiver.outcome == .done)
    }

    @Test func everythingComplete() throws {
        var pair = Pair()
        let complete = [1, 2, 4].map { ResumePoint(entry: $0, position: .complete) }
        try pair.run(Self.offer() + [(.receiver, .accept(resumeCount: 3, resume: complete))])
        #expect(pair.sender.filesRemaining == 0)
        #expect(throws: ProtocolError.wrongEntry(expected: nil, actual: 1)) {
            try pair.sender.sending(.fileEnd(entry: 1, digest: Self.xxh))
        }
        try pair.run([(.sender, .done), (.receiver, .doneAck)])
    }

    @Test func refuseWhereAllowed() throws {
        let offer = Self.offer()
        // Before the offer, in the middle of it, and after it: all before ACCEPT.
        for cut in [0, 1, 3, offer.count] {
            var pair = Pair()
            try pair.run(Array(offer.prefix(cut)))
            #expect(pair.receiver.canRefuse)
            try pair.feed(.receiver, .refuse(.quotaExceeded))
            #expect(pair.sender.outcome == .refused(.quotaExceeded))
            // The receiver drains what the sender had in flight without interpreting it.
            #expect(throws: ProtocolError.sessionEnded(.entry)) { try pair.receiver.received(.entry(Self.entries[0])) }
        }
        var pair = Pair()
        try pair.run(offer + [(.receiver, .accept(resumeCount: 0, resume: []))])
        #expect(!pair.receiver.canRefuse)
        #expect(throws: ProtocolError.unexpectedRecord(.refuse, phase: .transferring)) {
            try pair.receiver.sending(.refuse(.busy))
        }
        #expect(throws: ProtocolError.unexpectedRecord(.refuse, phase: .transferring)) {
            try pair.sender.received(.refuse(.busy))
        }
    }

    @Test func cancelFromEitherSideAnywhere() throws {
        let session = Self.fullSession
        for cut in 0..<session.count {
            for side in [ProtocolRole.sender, .receiver] {
                var pair = Pair()
                try pair.run(Array(session.prefix(cut)))
                try pair.feed(side, .cancel(.timeout))
                #expect(pair.sender.outcome == .cancelled(.timeout, by: side))
                #expect(pair.receiver.outcome == .cancelled(.timeout, by: side))
            }
        }
    }

    @Test func recordsFromTheWrongSide() {
        var receiver = SessionValidator(role: .receiver)
        var sender = SessionValidator(role: .sender)
        let senderOnly: [Record] = [
            .offerBegin(token: Fixtures.token, digest: .sha256, entryCount: 1, totalBytes: 0), .offerEnd, .done,
            .data(entry: 0, offset: 0, bytes: [1]), .fileAbort(entry: 0),
        ]
        for record in senderOnly {
            #expect(throws: ProtocolError.unexpectedRecord(record.type, phase: .awaitingOffer)) {
                try sender.received(record)
            }
            #expect(throws: ProtocolError.unexpectedRecord(record.type, phase: .awaitingOffer)) {
                try receiver.sending(record)
            }
        }
        let receiverOnly: [Record] = [.accept(resumeCount: 0, resume: []), .doneAck, .fileResult(entry: 0, .ok)]
        for record in receiverOnly {
            #expect(throws: ProtocolError.unexpectedRecord(record.type, phase: .awaitingOffer)) {
                try receiver.received(record)
            }
            #expect(throws: ProtocolError.unexpectedRecord(record.type, phase: .awaitingOffer)) {
                try sender.sending(record)
            }
        }
    }

    /// Every record of the legal session, with the record before it from the same side left out,
    /// is refused, except where the two do not depend on each other (sibling entries, keepalives).
    @Test func outOfOrder() throws {
        let session = Self.fullSession
        var checked = 0
        for index in 1..<session.count {
            let step = session[index]
            let previous = session[index - 1]
            guard step.from == previous.from, previous.record != .keepalive, step.record != .keepalive else { continue }
            if case .entry(let entry) = step.record, case .entry(let earlier) = previous.record,
                entry.path.parent != earlier.path
            {
                continue
            }
            var pair = Pair()
            try pair.run(Array(session.prefix(index - 1)))
            #expect(throws: ProtocolError.self, "step \(index) \(step.record.type) without \(previous.record.type)") {
                try pair.feed(step.from, step.record)
            }
            checked += 1
        }
        #expect(checked == 9)
    }

    @Test func specificOrderingErrors() throws {
        var pair = Pair()
        #expect(throws: ProtocolError.unexpectedRecord(.entry, phase: .awaitingOffer)) {
            try pair.receiver.received(.entry(Self.entries[0]))
        }
        #expect(throws: ProtocolError.unexpectedRecord(.offerEnd, phase: .awaitingOffer)) {
            try pair.receiver.received(.offerEnd)
        }
        let offer = Self.offer()
        try pair.run(Array(offer.prefix(3)))
        #expect(throws: ProtocolError.unexpectedRecord(.offerBegin, phase: .offering)) {
            try pair.receiver.received(offer[0].record)
        }
        #expect(throws: ProtocolError.unexpectedRecord(.accept, phase: .offering)) {
            try pair.sender.received(.accept(resumeCount: 0, resume: []))
        }
        #expect(throws: ProtocolError.missingEntries(announced: 5, received: 2)) {
            try pair.receiver.received(.offerEnd)
        }
        try pair.run(Array(offer[3..<(offer.count - 1)]))
        #expect(throws: ProtocolError.unexpectedRecord(.entry, phase: .offering)) {
            try pair.receiver.received(.entry(.file(Fixtures.path("extra"), size: 0)))
        }
        try pair.run([offer[offer.count - 1]])
        #expect(throws: ProtocolError.unexpectedRecord(.data, phase: .awaitingAnswer)) {
            try pair.receiver.received(.data(entry: 1, offset: 0, bytes: [1]))
        }
        #expect(throws: ProtocolError.unexpectedRecord(.acceptMore, phase: .awaitingAnswer)) {
            try pair.sender.received(.acceptMore([ResumePoint(entry: 1, position: .complete)]))
        }
        try pair.feed(.receiver, .accept(resumeCount: 0, resume: []))
        #expect(throws: ProtocolError.unexpectedRecord(.accept, phase: .transferring)) {
            try pair.sender.received(.accept(resumeCount: 0, resume: []))
        }
        #expect(throws: ProtocolError.unexpectedRecord(.doneAck, phase: .transferring)) {
            try pair.sender.received(.doneAck)
        }
        #expect(throws: ProtocolError.wrongResult(expected: nil, actual: 1)) {
            try pair.sender.received(.fileResult(entry: 1, .ok))
        }
        #expect(throws: ProtocolError.unfinishedFiles(3)) { try pair.receiver.received(.done) }
    }

    @Test func offerConsistency() throws {
        func attempt(_ entries: [OfferEntry], total: UInt64? = nil, limits: ProtocolLimits = .default) throws {
            var pair = Pair(limits: limits)
            try pair.run(Self.offer(entries, total: total))
        }
        let file = OfferEntry.file(Fixtures.path("x"), size: 1)
        #expect(throws: ProtocolError.duplicatePath("x")) { try attempt([file, file]) }
        #expect(throws: ProtocolError.duplicatePath("x")) {
            try attempt([file, .directory(Fixtures.path("x"))])
        }
        #expect(throws: ProtocolError.missingParent("d/x")) { try attempt([.file(Fixtures.path("d/x"), size: 0)]) }
        #expect(throws: ProtocolError.missingParent("x/y")) { try attempt([file, .file(Fixtures.path("x/y"), size: 0)]) }
        #expect(throws: ProtocolError.missingParent("d/x")) {
            // The parent must come first.
            try attempt([.file(Fixtures.path("d/x"), size: 0), .directory(Fixtures.path("d"))])
        }
        #expect(throws: ProtocolError.missingParent("a/b/c")) {
            try attempt([.directory(Fixtures.path("a")), .file(Fixtures.path("a/b/c"), size: 0)])
        }
        try attempt([.directory(Fixtures.path("a")), .directory(Fixtures.path("a/b")), .file(Fixtures.path("a/b/c"), size: 0)])
        // Byte-wise: NFC and NFD spellings are different names, so this is no duplicate...
        try attempt([.file(Fixtures.path("caf\u{E9}"), size: 0), .file(Fixtures.path("cafe\u{301}"), size: 0)])
        // ...and a directory in one spelling is not the parent of a file in the other.
        #expect(throws: ProtocolError.missingParent("cafe\u{301}/x")) {
            try attempt([.directory(Fixtures.path("caf\u{E9}")), .file(Fixtures.path("cafe\u{301}/x"), size: 0)])
        }
        // Totals: under and over.
        #expect(throws: ProtocolError.totalMismatch(announced: 2)) { try attempt([file], total: 2) }
        #expect(throws: ProtocolError.totalMismatch(announced: 0)) { try attempt([file], total: 0) }
        let huge = OfferEntry.file(Fixtures.path("h"), size: ProtocolLimits.maxFileSize)
        #expect(throws: ProtocolError.totalMismatch(announced: ProtocolLimits.maxFileSize)) {
            try attempt([huge, .file(Fixtures.path("i"), size: 1)], total: ProtocolLimits.maxFileSize)
        }
        try attempt([huge])
    }

    @Test func offerPathBudget() throws {
        let limits = ProtocolLimits(maxOfferPathBytes: 4096 + 10)
        let long = OfferEntry.file(Fixtures.path(String(repeating: "a/", count: 0) + String(repeating: "x", count: 200)), size: 0)
        var entries = (0..<20).map { OfferEntry.file(Fixtures.path("\(long.path)\($0 < 10 ? "0" : "")\($0)"), size: 0) }
        // 20 paths of 202 bytes = 4040 bytes: fits; a 21st does not.
        var pair = Pair(limits: limits)
        try pair.run(Self.offer(entries))
        entries.append(.file(Fixtures.path(String(repeating: "y", count: 202)), size: 0))
        pair = Pair(limits: limits)
        #expect(throws: ProtocolError.offerPathBytesExceeded(limit: 4106)) { try pair.run(Self.offer(entries)) }
        #expect(ProtocolError.offerPathBytesExceeded(limit: 1).refuseCode == .tooLarge)
    }

    @Test func entryLimit() throws {
        let limits = ProtocolLimits(maxEntries: 65_536)
        var receiver = SessionValidator(role: .receiver, limits: limits)
        let begin = Record.offerBegin(token: Fixtures.token, digest: .xxh3_128, entryCount: 100_000, totalBytes: 0)
        #expect(throws: ProtocolError.tooManyEntries(count: 100_000, limit: 65_536)) { try receiver.received(begin) }
        #expect(throws: ProtocolError.tooManyEntries(count: 100_000, limit: 65_536)) {
            try receiver.receive(begin.encoded()[...])
        }
        // Exactly the limit works, including the cost of checking 65,536 paths.
        let entries = (0..<65_536).map { OfferEntry.file(Fixtures.path("f\($0)"), size: 1) }
        var pair = Pair(limits: limits)
        try pair.run(Self.offer(entries) + [(.receiver, .accept(resumeCount: 0, resume: []))])
        #expect(pair.sender.filesRemaining == 65_536)
    }

    @Test func resumeConsistency() throws {
        func attempt(_ records: [Record]) throws {
            var pair = Pair()
            try pair.run(Self.offer())
            for record in records { try pair.feed(.receiver, record) }
        }
        func point(_ entry: UInt32, _ offset: UInt64) -> ResumePoint { ResumePoint(entry: entry, position: .offset(offset)) }
        #expect(throws: ProtocolError.resumeOrder(1)) { try attempt([.accept(resumeCount: 2, resume: [point(4, 0), point(1, 0)])]) }
        #expect(throws: ProtocolError.resumeOrder(1)) { try attempt([.accept(resumeCount: 2, resume: [point(1, 0), point(1, 1)])]) }
        #expect(throws: ProtocolError.resumeOrder(1)) {
            try attempt([.accept(resumeCount: 2, resume: [point(1, 0)]), .acceptMore([point(1, 0)])])
        }
        #expect(throws: ProtocolError.resumeForDirectory(0)) { try attempt([.accept(resumeCount: 1, resume: [point(0, 0)])]) }
        #expect(throws: ProtocolError.resumeBeyondSize(entry: 1, offset: 6, size: 5)) {
            try attempt([.accept(resumeCount: 1, resume: [point(1, 6)])])
        }
        #expect(throws: ProtocolError.resumeBeyondSize(entry: 2, offset: 1, size: 0)) {
            try attempt([.accept(resumeCount: 1, resume: [point(2, 1)])])
        }
        #expect(throws: ProtocolError.entryIndexOutOfRange(5, limit: 5)) { try attempt([.accept(resumeCount: 1, resume: [point(5, 0)])]) }
        #expect(throws: ProtocolError.badResumeCount) { try attempt([.accept(resumeCount: 6, resume: [])]) }
        #expect(throws: ProtocolError.unexpectedRecord(.acceptMore, phase: .transferring)) {
            try attempt([.accept(resumeCount: 1, resume: [point(1, 0)]), .acceptMore([point(2, 0)])])
        }
        #expect(throws: ProtocolError.badResumeCount) {
            try attempt([.accept(resumeCount: 2, resume: [point(1, 0)]), .acceptMore([point(2, 0), point(4, 0)])])
        }
        try attempt([.accept(resumeCount: 2, resume: [point(1, 5), point(2, 0)])])
    }

    @Test func transferConsistency() throws {
        func accepted(_ resume: [ResumePoint] = [], digest: DigestAlgorithm = .xxh3_128) throws -> Pair {
            var pair = Pair()
            try pair.run(Self.offer(digest: digest) + [(.receiver, .accept(resumeCount: UInt32(resume.count), resume: resume))])
            return pair
        }
        var pair = try accepted()
        // Files go in index order; directories are skipped; nothing may be skipped.
        #expect(throws: ProtocolError.wrongEntry(expected: 1, actual: 0)) {
            try pair.receiver.received(.data(entry: 0, offset: 0, bytes: [1]))
        }
        #expect(throws: ProtocolError.wrongEntry(expected: 1, actual: 2)) {
            try pair.receiver.received(.fileEnd(entry: 2, digest: Self.xxh))
        }
        #expect(throws: ProtocolError.wrongEntry(expected: 1, actual: 4)) {
            try pair.receiver.received(.fileAbort(entry: 4))
        }
        #expect(throws: ProtocolError.wrongOffset(entry: 1, expected: 0, actual: 1)) {
            try pair.receiver.received(.data(entry: 1, offset: 1, bytes: [1]))
        }
        #expect(throws: ProtocolError.dataBeyondSize(entry: 1)) {
            try pair.receiver.received(.data(entry: 1, offset: 0, bytes: [1, 2, 3, 4, 5, 6]))
        }
        #expect(throws: ProtocolError.fileIncomplete(entry: 1, received: 0, size: 5)) {
            try pair.receiver.received(.fileEnd(entry: 1, digest: Self.xxh))
        }
        try pair.feed(.sender, .data(entry: 1, offset: 0, bytes: [1, 2]))
        #expect(throws: ProtocolError.wrongOffset(entry: 1, expected: 2, actual: 1)) {
            try pair.receiver.received(.data(entry: 1, offset: 1, bytes: [1]))  // overlap
        }
        #expect(throws: ProtocolError.wrongOffset(entry: 1, expected: 2, actual: 3)) {
            try pair.receiver.received(.data(entry: 1, offset: 3, bytes: [1]))  // gap
        }
        #expect(throws: ProtocolError.wrongEntry(expected: 1, actual: 4)) {
            try pair.receiver.received(.data(entry: 4, offset: 0, bytes: [1]))  // interleaving
        }
        #expect(throws: ProtocolError.dataBeyondSize(entry: 1)) {
            try pair.receiver.received(.data(entry: 1, offset: 2, bytes: [1, 2, 3, 4]))
        }
        #expect(throws: ProtocolError.unfinishedFiles(3)) { try pair.receiver.received(.done) }
        try pair.feed(.sender, .data(entry: 1, offset: 2, bytes: [3, 4, 5]))
        #expect(throws: ProtocolError.badDigestLength(32)) {
            try pair.receiver.received(.fileEnd(entry: 1, digest: Array(repeating: 0, count: 32)))
        }
        try pair.feed(.sender, .fileEnd(entry: 1, digest: Self.xxh))
        #expect(throws: ProtocolError.wrongEntry(expected: 2, actual: 1)) {
            try pair.receiver.received(.fileEnd(entry: 1, digest: Self.xxh))  // twice
        }
        #expect(throws: ProtocolError.dataBeyondSize(entry: 2)) {
            try pair.receiver.received(.data(entry: 2, offset: 0, bytes: [1]))  // the empty file
        }
        try pair.feed(.sender, .fileAbort(entry: 2))
        #expect(throws: ProtocolError.wrongResult(expected: 1, actual: 2)) {
            try pair.sender.received(.fileResult(entry: 2, .cancelled))
        }
        try pair.feed(.receiver, .fileResult(entry: 1, .ok))
        #expect(throws: ProtocolError.wrongResult(expected: 2, actual: 1)) {
            try pair.sender.received(.fileResult(entry: 1, .ok))  // twice
        }
        try pair.feed(.receiver, .fileResult(entry: 2, .cancelled))
        // Aborting mid-file is allowed.
        try pair.feed(.sender, .data(entry: 4, offset: 0, bytes: [1]))
        try pair.feed(.sender, .fileAbort(entry: 4))
        try pair.feed(.sender, .done)
        #expect(throws: ProtocolError.unexpectedRecord(.data, phase: .finishing)) {
            try pair.receiver.received(.data(entry: 4, offset: 1, bytes: [1]))
        }
        #expect(throws: ProtocolError.unexpectedRecord(.done, phase: .finishing)) { try pair.receiver.received(.done) }
        #expect(throws: ProtocolError.unfinishedFiles(1)) { try pair.sender.received(.doneAck) }
        try pair.feed(.receiver, .fileResult(entry: 4, .cancelled))
        try pair.feed(.receiver, .doneAck)

        // Resumed files continue at their offset; complete ones get nothing.
        pair = try accepted([ResumePoint(entry: 1, position: .complete), ResumePoint(entry: 4, position: .offset(1))], digest: .sha256)
        #expect(throws: ProtocolError.wrongEntry(expected: 2, actual: 1)) {
            try pair.receiver.received(.data(entry: 1, offset: 0, bytes: [1]))
        }
        #expect(throws: ProtocolError.badDigestLength(16)) { try pair.receiver.received(.fileEnd(entry: 2, digest: Self.xxh)) }
        try pair.feed(.sender, .fileEnd(entry: 2, digest: Array(repeating: 0, count: 32)))
        #expect(throws: ProtocolError.wrongOffset(entry: 4, expected: 1, actual: 0)) {
            try pair.receiver.received(.data(entry: 4, offset: 0, bytes: [1]))
        }
        try pair.feed(.sender, .data(entry: 4, offset: 1, bytes: [2, 3]))
        try pair.feed(.sender, .fileEnd(entry: 4, digest: Array(repeating: 0, count: 32)))
        try pair.run([(.sender, .done), (.receiver, .fileResult(entry: 2, .ok)), (.receiver, .fileResult(entry: 4, .ok)), (.receiver, .doneAck)])
    }

    /// A rejected record changes nothing: the legal one that follows is still accepted.
    @Test func errorsChangeNothing() throws {
        var pair = Pair()
        let session = Self.fullSession
        for step in session {
            var copy = pair
            // Records that are wrong at every point of this session.
            let junk: [Record] = [
                .data(entry: 3, offset: 9, bytes: [1]), .fileEnd(entry: 0, digest: []), .fileAbort(entry: 3),
                .entry(.file(Fixtures.path("missing/parent"), size: 1)), .fileResult(entry: 9, .ok),
                .accept(resumeCount: 9, resume: []), .acceptMore([ResumePoint(entry: 0, position: .complete)]),
                .offerBegin(token: Fixtures.token, digest: .sha256, entryCount: 0, totalBytes: 0),
            ]
            for record in junk {
                #expect(throws: ProtocolError.self) { try copy.receiver.received(record) }
                #expect(throws: ProtocolError.self) { try copy.sender.received(record) }
            }
            try copy.feed(step.from, step.record)
            try pair.feed(step.from, step.record)
        }
        #expect(pair.receiver.outcome == .done)
    }

    @Test func sendingChecksFields() {
        var sender = SessionValidator(role: .sender)
        #expect(throws: ProtocolError.emptyOffer) {
            try sender.sending(.offerBegin(token: Fixtures.token, digest: .sha256, entryCount: 0, totalBytes: 0))
        }
        #expect(throws: Never.self) {
            try sender.sending(.offerBegin(token: Fixtures.token, digest: .sha256, entryCount: 1, totalBytes: 0))
        }
        var bad = OfferEntry.file(Fixtures.path("x"), size: 0)
        bad.mode = 0o4755
        #expect(throws: ProtocolError.invalidMode(0o4755)) { try sender.sending(.entry(bad)) }
        bad.mode = 0o644
        bad.mtimeNanoseconds = 2_000_000_000
        #expect(throws: ProtocolError.invalidNanoseconds(2_000_000_000)) { try sender.sending(.entry(bad)) }
        #expect(sender.phase == .offering)
    }
}
