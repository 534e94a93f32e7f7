import Foundation
import Testing

/// What one fuzz run is: how many inputs and from which seed. `make fuzz` sets FUZZ_COUNT (inputs
/// across all targets, shared out by ``share``) and FUZZ_SEED (decimal or 0x-hex); the unit suite
/// runs without them: ``defaultCount`` inputs from ``defaultSeed``, a few seconds.
enum FuzzRun {
    static let defaultCount = 30_000
    static let defaultSeed: UInt64 = 0x5EED_0019

    static var count: Int {
        guard let text = ProcessInfo.processInfo.environment["FUZZ_COUNT"], let value = Int(text), value > 0 else {
            return defaultCount
        }
        return value
    }

    static var seed: UInt64 {
        guard let text = ProcessInfo.processInfo.environment["FUZZ_SEED"], !text.isEmpty else { return defaultSeed }
        if text.hasPrefix("0x") || text.hasPrefix("0X") { return UInt64(text.dropFirst(2), radix: 16) ?? defaultSeed }
        return UInt64(text) ?? defaultSeed
    }

    /// This target's inputs: `fraction` of the whole count, at least 100.
    static func share(_ fraction: Double) -> Int { max(100, Int(Double(count) * fraction)) }

    /// A generator for one target: the run's seed mixed with the target's name, so each target can
    /// be reproduced alone (`--filter` one test with the same FUZZ_SEED and FUZZ_COUNT).
    static func generator(_ target: String) -> Xoshiro256 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in target.utf8 { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        return Xoshiro256(seed: seed ^ hash)
    }

    /// The process's peak resident set (VmHWM), in KiB; 0 if unknown.
    static func peakRSSKiB() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
        }
        return 0
    }
}

/// Counts what a target saw, and prints the line `make fuzz` reports.
struct FuzzTally {
    let target: String
    let started = ContinuousClock.now
    let peakBefore = FuzzRun.peakRSSKiB()
    var inputs = 0
    var accepted = 0
    var errors: [String: Int] = [:]
    var reported = 0

    init(_ target: String) { self.target = target }

    /// Counts one more input, and lets the other suites' tasks run every 64 inputs. The unit suites
    /// share one cooperative pool, a thread per core: two fuzz loops that never yield hold both
    /// threads of a 2-core machine for seconds, and the network suites' handshakes time out.
    mutating func next() async {
        inputs += 1
        if inputs % 64 == 0 { await Task.yield() }
    }

    mutating func rejected(_ error: any Error) {
        // The error's case, and what it says without its numbers (libdbus's reasons are in the text).
        let label = Mirror(reflecting: error).children.first?.label ?? ""
        let text = String(describing: error).filter { !$0.isNumber }
        errors["\(label) \(text.prefix(60))", default: 0] += 1
    }

    /// A broken property: recorded with what it takes to reproduce it (the first 10 only).
    mutating func violation(_ what: String, _ input: some Collection<UInt8>, iteration: Int,
                            sourceLocation: SourceLocation = #_sourceLocation) {
        reported += 1
        guard reported <= 10 else { return }
        let hex: String = input.prefix(512).map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
        let more = input.count > 512 ? "... (\(input.count) bytes)" : ""
        Issue.record(
            "\(target): \(what) at input \(iteration), FUZZ_SEED=\(FuzzRun.seed) FUZZ_COUNT=\(FuzzRun.count): \(hex)\(more)",
            sourceLocation: sourceLocation)
    }

    /// Prints `fuzz TARGET: N inputs in S s (R/s), A accepted, E rejected (K kinds), peak RSS +M MiB`.
    func finish() -> Int {
        let seconds = max((ContinuousClock.now - started) / .seconds(1), 1e-9)
        let rejected = errors.values.reduce(0, +)
        let growth = FuzzRun.peakRSSKiB() - peakBefore
        let rate = Int(Double(inputs) / seconds)
        print(
            "fuzz \(target): \(inputs) inputs in \(String(format: "%.2f", seconds)) s (\(rate)/s), seed \(FuzzRun.seed), "
                + "\(accepted) accepted, \(rejected) rejected (\(errors.count) kinds), peak RSS +\(growth / 1024) MiB")
        return growth
    }
}

/// xoshiro256**, seeded through SplitMix64: fast, and the same sequence on every machine.
struct Xoshiro256: RandomNumberGenerator {
    private var s: (UInt64, UInt64, UInt64, UInt64)

    init(seed: UInt64) {
        var x = seed
        func mix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s = (mix(), mix(), mix(), mix())
    }

    mutating func next() -> UInt64 {
        let result = ((s.1 &* 5) << 7 | (s.1 &* 5) >> 57) &* 9
        let t = s.1 << 17
        s.2 ^= s.0
        s.3 ^= s.1
        s.1 ^= s.2
        s.0 ^= s.3
        s.2 ^= t
        s.3 = s.3 << 45 | s.3 >> 19
        return result
    }
}

/// Byte-level mutations in the manner of libFuzzer's: bit flips, random and "interesting" bytes
/// and integers (both byte orders: records are big-endian, D-Bus mostly little), cuts, inserts,
/// repeated and deleted ranges, and splices with another input of the corpus.
struct Mutator {
    /// Values the first byte is set to now and then (the record types, the D-Bus endianness marks).
    var firstBytes: [UInt8] = []
    /// Inputs never grow beyond this.
    var maxLength = 70_000

    static let interestingBytes: [UInt8] = [0x00, 0x01, 0x02, 0x10, 0x1F, 0x20, 0x2E, 0x2F, 0x7F, 0x80, 0xC0, 0xFE, 0xFF]
    static let interestingIntegers: [UInt64] = [
        0, 1, 2, 3, 4, 7, 8, 12, 16, 32, 37, 255, 256, 4096, 4097, 65_519, 65_535, 65_536, 0x7FFF_FFFF, 0x8000_0000,
        0xFFFF_FFFF, 0x1_0000_0000, 0x7FFF_FFFF_FFFF_FFFF, 0x8000_0000_0000_0000, UInt64.max, UInt64.max - 1,
    ]

    func mutate(_ input: [UInt8], corpus: [[UInt8]], _ rng: inout Xoshiro256) -> [UInt8] {
        var bytes = input
        for _ in 0..<Int.random(in: 1...5, using: &rng) {
            apply(Int.random(in: 0..<12, using: &rng), to: &bytes, corpus: corpus, &rng)
        }
        if bytes.count > maxLength { bytes.removeLast(bytes.count - maxLength) }
        return bytes
    }

    private func apply(_ operation: Int, to bytes: inout [UInt8], corpus: [[UInt8]], _ rng: inout Xoshiro256) {
        switch operation {
        case 0 where !bytes.isEmpty:
            bytes[Int.random(in: bytes.indices, using: &rng)] ^= UInt8(1) << UInt8.random(in: 0..<8, using: &rng)
        case 1 where !bytes.isEmpty:
            bytes[Int.random(in: bytes.indices, using: &rng)] = UInt8.random(in: 0...255, using: &rng)
        case 2 where !bytes.isEmpty:
            bytes[Int.random(in: bytes.indices, using: &rng)] = Self.interestingBytes.randomElement(using: &rng) ?? 0
        case 3 where !bytes.isEmpty:
            bytes.removeLast(Int.random(in: 1...min(bytes.count, 64), using: &rng))
        case 4:
            bytes += (0..<Int.random(in: 1...24, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
        case 5:
            bytes.insert(UInt8.random(in: 0...255, using: &rng), at: Int.random(in: 0...bytes.count, using: &rng))
        case 6 where bytes.count > 1:
            let start = Int.random(in: 0..<bytes.count, using: &rng)
            bytes.removeSubrange(start..<min(bytes.count, start + Int.random(in: 1...16, using: &rng)))
        case 7 where !bytes.isEmpty:
            let start = Int.random(in: 0..<bytes.count, using: &rng)
            let chunk = bytes[start..<min(bytes.count, start + Int.random(in: 1...32, using: &rng))]
            bytes.insert(contentsOf: Array(chunk), at: Int.random(in: 0...bytes.count, using: &rng))
        case 8:
            // Splice: this input's head, another's tail.
            guard let other = corpus.randomElement(using: &rng), !other.isEmpty else { return }
            let cut = Int.random(in: 0...bytes.count, using: &rng)
            let from = Int.random(in: 0..<other.count, using: &rng)
            bytes = Array(bytes[..<cut]) + other[from...]
        case 9 where bytes.count >= 2, 10 where bytes.count >= 2:
            // An interesting integer of 2, 4 or 8 bytes, big- (9) or little-endian (10).
            let width = [2, 4, 8].randomElement(using: &rng) ?? 4
            guard bytes.count >= width else { return }
            let at = Int.random(in: 0...(bytes.count - width), using: &rng)
            var value = Self.interestingIntegers.randomElement(using: &rng) ?? 0
            if Bool.random(using: &rng) { value = value &+ UInt64(bitPattern: Int64.random(in: -2...2, using: &rng)) }
            for index in 0..<width {
                let shift = operation == 9 ? (width - 1 - index) * 8 : index * 8
                bytes[at + index] = UInt8(truncatingIfNeeded: value >> UInt64(shift))
            }
        case 11 where !bytes.isEmpty && !firstBytes.isEmpty:
            bytes[0] = firstBytes.randomElement(using: &rng) ?? 0
        default:
            if !bytes.isEmpty { bytes[Int.random(in: bytes.indices, using: &rng)] &+= 1 }
        }
    }
}

/// The seed corpus in Tests/S2SFuzzTests/Corpus (see its README.md): files of length-prefixed
/// items, each a 1-byte tag and a 4-byte big-endian length before the bytes.
enum Corpus {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Corpus")

    struct Item {
        var tag: UInt8
        var bytes: [UInt8]
    }

    /// Every file with extension `ext` in `subdirectory`, sorted by name, as its items.
    static func files(_ subdirectory: String, ext: String) -> [(name: String, items: [Item])] {
        let folder = directory.appendingPathComponent(subdirectory)
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? [])
            .filter { $0.hasSuffix("." + ext) }.sorted()
        return names.compactMap { name in
            guard let data = FileManager.default.contents(atPath: folder.appendingPathComponent(name).path) else {
                return nil
            }
            return (name, items(in: [UInt8](data)))
        }
    }

    static func items(in bytes: [UInt8]) -> [Item] {
        var items: [Item] = []
        var offset = 0
        while offset + 5 <= bytes.count {
            let length = bytes[(offset + 1)..<(offset + 5)].reduce(0) { $0 << 8 | Int($1) }
            guard offset + 5 + length <= bytes.count else { break }
            items.append(Item(tag: bytes[offset], bytes: Array(bytes[(offset + 5)..<(offset + 5 + length)])))
            offset += 5 + length
        }
        return items
    }
}
