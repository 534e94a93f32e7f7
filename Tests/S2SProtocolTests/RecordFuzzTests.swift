import Testing
@testable import S2SProtocol

/// Random and mutated input to the decoder and the state machine: never a crash or a trap, only
/// ``ProtocolError``s; and whatever decodes re-encodes to exactly the same bytes (one encoding per
/// record, so nothing can hide in alternative forms).
struct RecordFuzzTests {
    static let iterations = 50_000

    /// A record's bytes made hostile: bits flipped, bytes replaced, cut, extended, lengths changed.
    static func mutate(_ input: [UInt8], _ rng: inout SplitMix64) -> [UInt8] {
        var bytes = input
        for _ in 0..<Int.random(in: 1...4, using: &rng) {
            switch Int.random(in: 0..<7, using: &rng) {
            case 0 where !bytes.isEmpty:
                bytes[Int.random(in: bytes.indices, using: &rng)] ^= UInt8(1) << UInt8.random(in: 0..<8, using: &rng)
            case 1 where !bytes.isEmpty:
                bytes[Int.random(in: bytes.indices, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
            case 2 where !bytes.isEmpty:
                bytes.removeLast(Int.random(in: 1...bytes.count, using: &rng))
            case 3:
                bytes += (0..<Int.random(in: 1...20, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            case 4 where bytes.count > 1:
                // Interesting values into a random position: 0x00, 0xFF, '/', '.', 0x80.
                let values: [UInt8] = [0x00, 0xFF, 0x2F, 0x2E, 0x80, 0x7F, 0x10, 0x01]
                bytes[Int.random(in: 1..<bytes.count, using: &rng)] = values.randomElement(using: &rng) ?? 0
            case 5 where !bytes.isEmpty:
                bytes[0] = RecordType.allCases.randomElement(using: &rng)?.rawValue ?? 0
            default:
                if bytes.count > 2 {
                    let index = Int.random(in: 1..<bytes.count, using: &rng)
                    bytes.insert(UInt8.random(in: 0...255, using: &rng), at: index)
                }
            }
        }
        return bytes
    }

    static func random(_ rng: inout SplitMix64) -> [UInt8] {
        let length = Int.random(in: 0...64, using: &rng)
        var bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
        if !bytes.isEmpty && Bool.random(using: &rng) {
            bytes[0] = RecordType.allCases.randomElement(using: &rng)?.rawValue ?? 0
        }
        return bytes
    }

    @Test func decoderNeverTraps() async {
        var rng = SplitMix64(state: 0x5EED_0001)
        let seeds = Fixtures.samples.map { $0.encoded() }
        let limits = ProtocolLimits(maxEntries: 1000)
        var decoded = 0
        var failures: [String: Int] = [:]
        for iteration in 0..<Self.iterations {
            await letOtherTestsRun(iteration)
            let bytes =
                iteration % 3 == 0
                ? Self.random(&rng)
                : Self.mutate(seeds[iteration % seeds.count], &rng)
            do {
                let record = try Record.decode(bytes, limits: limits)
                decoded += 1
                if record.encoded() != bytes {
                    Issue.record("not canonical: \(Fixtures.hexString(bytes)) -> \(record)")
                }
            } catch {
                failures[String(describing: error).prefix(12).description, default: 0] += 1
            }
        }
        // Both outcomes must be well represented, or the fuzzer is not exploring.
        #expect(decoded > Self.iterations / 20)
        #expect(failures.values.reduce(0, +) > Self.iterations / 2)
        #expect(failures.count > 15)
    }

    /// Long mutated paths through ENTRY: the path validator sees every kind of byte.
    @Test func pathsNeverTrap() async {
        var rng = SplitMix64(state: 0x5EED_0002)
        let alphabet: [UInt8] = [0x2F, 0x2E, 0x61, 0x00, 0x1F, 0x7F, 0xC2, 0x80, 0x9F, 0xE6, 0x97, 0xA5, 0xFF, 0xED, 0xA0]
        var accepted = 0
        for iteration in 0..<Self.iterations / 5 {
            await letOtherTestsRun(iteration)
            let length = Int.random(in: 0...300, using: &rng)
            let bytes = (0..<length).map { _ in alphabet.randomElement(using: &rng) ?? 0 }
            if let path = try? RelativePath(validating: bytes) {
                accepted += 1
                #expect(Array(path.string.utf8) == bytes)
                #expect(!path.components.contains { $0.isEmpty || $0 == "." || $0 == ".." })
            }
        }
        #expect(accepted > 0)
    }

    /// Random sequences of valid records into validators of both roles: errors, never traps.
    @Test func validatorNeverTraps() async {
        var rng = SplitMix64(state: 0x5EED_0003)
        let pool = Fixtures.samples + [
            .entry(.directory(Fixtures.path("notes"))), .entry(.file(Fixtures.path("a"), size: 0)),
            .accept(resumeCount: 1, resume: [ResumePoint(entry: 1, position: .offset(5))]),
            .fileEnd(entry: 0, digest: Array(repeating: 0, count: 16)), .data(entry: 0, offset: 0, bytes: [1, 2]),
        ]
        var progressed = 0
        for round in 0..<Self.iterations / 50 {
            await letOtherTestsRun(round)
            var validator = SessionValidator(role: round % 2 == 0 ? .sender : .receiver)
            for _ in 0..<40 {
                guard let record = pool.randomElement(using: &rng) else { continue }
                do {
                    if Bool.random(using: &rng) {
                        try validator.received(record)
                    } else {
                        try validator.sending(record)
                    }
                    progressed += 1
                } catch {
                    continue
                }
            }
        }
        #expect(progressed > 0)
    }
}
