import FoundationEssentials
import S2SProtocol
import Testing

/// The record codec and the session state machine, from real captured sessions (Corpus/records):
/// every mutated record either decodes to a value that re-encodes to exactly its bytes and decodes
/// again to the same value, or is a ``ProtocolError``; mutated sessions run through both sides'
/// ``SessionValidator``s, which must agree on every record. Extends RecordFuzzTests (the unit
/// suite's fixtures) to captured input and to whole sessions.
@Suite(.serialized) struct RecordCorpusFuzzTests {
    /// One captured session: each record with the side that sent it.
    typealias Session = [(from: ProtocolRole, bytes: [UInt8])]

    static let sessions: [(name: String, records: Session)] = Corpus.files("records", ext: "session").map { file in
        (file.name, file.items.map { (from: $0.tag == UInt8(ascii: "R") ? .receiver : .sender, bytes: $0.bytes) })
    }

    static let mutator = Mutator(firstBytes: RecordType.allCases.map(\.rawValue))

    @Test func theCorpusIsThere() {
        #expect(Self.sessions.count >= 3, "no captured sessions in \(Corpus.directory.path)/records")
        #expect(Set(Self.sessions.flatMap { $0.records.map { $0.bytes.first ?? 0 } }).count >= 10)
    }

    /// The captured sessions as they were: every record decodes canonically, and both validators
    /// follow each session to its end.
    @Test func capturedSessionsAreValid() throws {
        for (name, records) in Self.sessions {
            var sender = SessionValidator(role: .sender)
            var receiver = SessionValidator(role: .receiver)
            for (index, step) in records.enumerated() {
                let record = try Record.decode(step.bytes, limits: .default)
                #expect(record.encoded() == step.bytes, "\(name) record \(index)")
                switch step.from {
                case .sender:
                    try sender.sending(record)
                    _ = try receiver.receive(step.bytes[...])
                case .receiver:
                    try receiver.sending(record)
                    _ = try sender.receive(step.bytes[...])
                }
            }
            #expect(sender.phase == .ended && receiver.phase == .ended, "\(name) did not end")
            #expect(sender.outcome == receiver.outcome, "\(name)")
        }
    }

    @Test func recordsDecodeCanonicallyOrFail() async {
        var rng = FuzzRun.generator("records")
        var tally = FuzzTally("records")
        let corpus = Self.sessions.flatMap { $0.records.map(\.bytes) }
        guard !corpus.isEmpty else { return }
        let limits = ProtocolLimits.default
        for iteration in 0..<FuzzRun.share(0.4) {
            let seed = corpus[Int.random(in: 0..<corpus.count, using: &rng)]
            let bytes = Self.mutator.mutate(seed, corpus: corpus, &rng)
            await tally.next()
            do {
                let record = try Record.decode(bytes, limits: limits)
                tally.accepted += 1
                let again = record.encoded()
                if again != bytes { tally.violation("re-encodes differently", bytes, iteration: iteration) }
                if record.encodedLength != bytes.count { tally.violation("encodedLength differs", bytes, iteration: iteration) }
                if (try? Record.decode(again, limits: limits)) != record {
                    tally.violation("re-encoded record does not decode to itself", bytes, iteration: iteration)
                }
            } catch {
                tally.rejected(error)
            }
        }
        let growth = tally.finish()
        #expect(tally.reported == 0)
        #expect(tally.accepted > tally.inputs / 50, "the mutations never produce valid records: not exploring")
        #expect(tally.errors.count >= 10, "few kinds of errors: not exploring")
        #expect(growth < 256 * 1024)
    }

    /// Sessions cut, reordered, repeated, spliced and with mutated records, into a pair of
    /// validators: whatever one side accepts from the other, the sending side's own check accepts
    /// too (the two state machines never diverge), and nothing traps.
    @Test func mutatedSessionsKeepBothSidesInStep() async {
        var rng = FuzzRun.generator("sessions")
        var tally = FuzzTally("sessions")
        guard !Self.sessions.isEmpty else { return }
        let corpus = Self.sessions.flatMap { $0.records.map(\.bytes) }
        var ended = 0
        for iteration in 0..<FuzzRun.share(0.15) {
            var session = Self.sessions[Int.random(in: 0..<Self.sessions.count, using: &rng)].records
            for _ in 0..<Int.random(in: 1...3, using: &rng) {
                Self.mutate(&session, corpus: corpus, &rng)
            }
            await tally.next()
            var sender = SessionValidator(role: .sender)
            var receiver = SessionValidator(role: .receiver)
            var failures = 0
            for step in session {
                let peerResult: Result<Record, ProtocolError>
                let ownResult: Result<Void, ProtocolError>
                switch step.from {
                case .sender:
                    peerResult = Result { () throws(ProtocolError) in try receiver.receive(step.bytes[...]) }
                    ownResult = Result { () throws(ProtocolError) in
                        try sender.sending(try Record.decode(step.bytes, limits: .default))
                    }
                case .receiver:
                    peerResult = Result { () throws(ProtocolError) in try sender.receive(step.bytes[...]) }
                    ownResult = Result { () throws(ProtocolError) in
                        try receiver.sending(try Record.decode(step.bytes, limits: .default))
                    }
                }
                switch (peerResult, ownResult) {
                case (.success, .success): continue
                case (.failure(let error), .failure): tally.rejected(error); failures += 1
                case (.success, .failure(let error)), (.failure(let error), .success):
                    tally.violation("the two sides disagree (\(error)) on record", step.bytes, iteration: iteration)
                }
            }
            if failures == 0 { tally.accepted += 1 }
            if sender.phase == .ended { ended += 1 }
            if sender.phase != receiver.phase || sender.outcome != receiver.outcome {
                tally.violation("the sides end in different phases", [], iteration: iteration)
            }
        }
        let growth = tally.finish()
        #expect(tally.reported == 0)
        #expect(ended > 0 && tally.errors.count >= 8, "the mutated sessions do not explore")
        #expect(growth < 256 * 1024)
    }

    static func mutate(_ session: inout Session, corpus: [[UInt8]], _ rng: inout Xoshiro256) {
        guard !session.isEmpty else { return }
        let index = Int.random(in: 0..<session.count, using: &rng)
        switch Int.random(in: 0..<7, using: &rng) {
        case 0, 1: session[index].bytes = mutator.mutate(session[index].bytes, corpus: corpus, &rng)
        case 2: session.remove(at: index)
        case 3: session.insert(session[index], at: index)
        case 4 where index + 1 < session.count: session.swapAt(index, index + 1)
        case 5:
            let other = sessions[Int.random(in: 0..<sessions.count, using: &rng)].records
            if let step = other.randomElement(using: &rng) { session.insert(step, at: index) }
        default: session.removeLast(Int.random(in: 0...(session.count - index - 1), using: &rng))
        }
    }
}
