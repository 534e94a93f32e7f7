@testable import S2SProtocol

/// Shared helpers for the peer-protocol tests.
enum Fixtures {
    /// Bytes from a hex string; spaces and newlines are ignored.
    static func hex(_ string: String) -> [UInt8] {
        let digits = string.filter { !$0.isWhitespace }.map { $0 }
        var bytes: [UInt8] = []
        var index = 0
        while index + 1 < digits.count {
            bytes.append(UInt8(String(digits[index...index + 1]), radix: 16) ?? 0)
            index += 2
        }
        return bytes
    }

    static func hexString(_ bytes: some Sequence<UInt8>) -> String {
        bytes.map { $0 < 16 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
    }

    static func path(_ string: String) -> RelativePath {
        do {
            return try RelativePath(string)
        } catch {
            preconditionFailure("test path \(string) is invalid: \(error)")
        }
    }

    static let token = TransferToken(unchecked: Array(0..<16))

    /// One record of every type, with edge values, for round trips and fuzzing.
    static let samples: [Record] = [
        .offerBegin(token: token, digest: .xxh3_128, entryCount: 2, totalBytes: 5),
        .offerBegin(token: token, digest: .sha256, entryCount: 65_536, totalBytes: ProtocolLimits.maxFileSize),
        .entry(.directory(path("notes"), mode: 0o755, mtimeSeconds: 1_700_000_000)),
        .entry(.file(path("notes/hello.txt"), size: 5, mode: 0o644, mtimeSeconds: -1, mtimeNanoseconds: 999_999_999)),
        .entry(.file(path("日本語/ファイル.txt"), size: ProtocolLimits.maxFileSize, mode: 0, mtimeSeconds: .min)),
        .offerEnd,
        .data(entry: 1, offset: 0, bytes: Array("hello".utf8)[...]),
        .data(entry: 65_535, offset: ProtocolLimits.maxFileSize - 1, bytes: [0][...]),
        .fileEnd(entry: 1, digest: Array(repeating: 0xAB, count: 16)),
        .fileEnd(entry: 7, digest: Array(repeating: 0xCD, count: 32)),
        .fileAbort(entry: 3),
        .done,
        .accept(resumeCount: 0, resume: []),
        .accept(
            resumeCount: 3,
            resume: [ResumePoint(entry: 1, position: .offset(2)), ResumePoint(entry: 4, position: .complete)]),
        .acceptMore([ResumePoint(entry: 9, position: .offset(ProtocolLimits.maxFileSize))]),
        .refuse(.quotaExceeded),
        .fileResult(entry: 1, .ok),
        .fileResult(entry: 2, .integrity),
        .doneAck,
        .cancel(.cancelled),
        .keepalive,
        .sequenced(sequence: 0, .data(entry: 1, offset: 0, bytes: Array("hello".utf8)[...])),
        .sequenced(sequence: .max, .done),
        .join(StripeSecret(unchecked: Array(0..<16))),
        .stripes(extra: 15, secret: StripeSecret(unchecked: Array(repeating: 0xEE, count: 16))),
        .joined,
        .candidates([]),
        .candidates([
            DirectCandidate(ip: [198, 19, 0, 11], port: 40000), DirectCandidate(ip: [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [2], port: 1),
        ].compactMap { $0 }),
    ]
}

/// SplitMix64: a small seeded generator, so fuzz failures can be reproduced.
/// Lets the other suites' tasks run every 64 iterations of a long loop. The unit suites share one
/// cooperative pool, a thread per core: loops that never yield hold both threads of a 2-core
/// machine for seconds, and the network suites' handshakes time out.
func letOtherTestsRun(_ iteration: Int) async {
    if iteration % 64 == 63 { await Task.yield() }
}

struct SplitMix64: RandomNumberGenerator {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
