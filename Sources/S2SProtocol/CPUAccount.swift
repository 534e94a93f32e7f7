import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The hot path's phases whose CPU time the process counts (``CPUAccount``).
public enum CPUPhase: String, CaseIterable, Sendable {
    /// Reading file data to send (`pread`, the kernel's copy included), and re-reading a partial
    /// file to digest it on resume.
    case read
    /// Whole-file digests (XXH3-128, SHA-256), both sides.
    case digest
    /// Sealing records (AEAD), and opening them.
    case seal, open
    /// Writing received data to its partial file (`pwrite`).
    case write
}

/// CPU time spent in each ``CPUPhase`` by the whole process since it started: the thread's own
/// CPU clock around each call, summed lock-free. What the rest costs (sockets, scheduling, the
/// bus) is the process's CPU time minus these. `make bench` reads them, so that a regression in
/// one phase shows without `perf`; each measurement costs two reads of the thread's clock, well
/// under a microsecond, against a 64 KiB record.
public enum CPUAccount {
    private final class Counters: Sendable {
        let read = Atomic<UInt64>(0)
        let digest = Atomic<UInt64>(0)
        let seal = Atomic<UInt64>(0)
        let open = Atomic<UInt64>(0)
        let write = Atomic<UInt64>(0)

        func add(_ nanoseconds: UInt64, to phase: CPUPhase) {
            switch phase {
            case .read: read.add(nanoseconds, ordering: .relaxed)
            case .digest: digest.add(nanoseconds, ordering: .relaxed)
            case .seal: seal.add(nanoseconds, ordering: .relaxed)
            case .open: open.add(nanoseconds, ordering: .relaxed)
            case .write: write.add(nanoseconds, ordering: .relaxed)
            }
        }

        func load(_ phase: CPUPhase) -> UInt64 {
            switch phase {
            case .read: read.load(ordering: .relaxed)
            case .digest: digest.load(ordering: .relaxed)
            case .seal: seal.load(ordering: .relaxed)
            case .open: open.load(ordering: .relaxed)
            case .write: write.load(ordering: .relaxed)
            }
        }
    }

    private static let counters = Counters()

    /// Runs `body`, counting the calling thread's CPU time in it toward `phase`.
    @inline(__always)
    public static func measure<Result, Failure: Error>(_ phase: CPUPhase, _ body: () throws(Failure) -> Result) throws(Failure) -> Result {
        let start = threadNanoseconds()
        defer { counters.add(threadNanoseconds() &- start, to: phase) }
        return try body()
    }

    /// Nanoseconds per phase since the process started.
    public static var totals: [CPUPhase: UInt64] {
        Dictionary(uniqueKeysWithValues: CPUPhase.allCases.map { ($0, counters.load($0)) })
    }

    private static func threadNanoseconds() -> UInt64 {
        var now = timespec()
        // CLOCK_THREAD_CPUTIME_ID cannot fail for the calling thread; 0 would only undercount.
        guard clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now) == 0 else { return 0 }
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }
}
