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
    /// The event loops' threads, whole: socket reads and writes (the kernel's TCP work and copies
    /// in them) and the channel handlers around them. Counted by thread, not by call
    /// (``CPUAccount/countCallingThread(toward:)``): the calls are inside SwiftNIO.
    case socket
}

/// CPU time spent in each ``CPUPhase`` by the whole process since it started: the thread's own
/// CPU clock around each call, summed lock-free, and the whole CPU time of threads that do one
/// phase's work only (the event loops'). What the rest costs (hand-overs between threads,
/// scheduling, the bus) is the process's CPU time minus these. `make bench` reads them, so that
/// a regression in one phase shows without `perf`.
///
/// Reading the thread's clock is a system call (no vDSO serves it), about a microsecond here:
/// nothing against a 64 KiB record, but two per call were 6 % of a receiver's CPU time on a tree
/// of 4 KiB files. So a call on fewer than ``exactFrom`` bytes is measured one time in
/// ``sampling``, chosen by a hashed counter (so that calls that alternate in a pattern, as a
/// file's records do, are sampled alike), and counted that many times over: small calls' totals
/// are estimates, larger ones exact.
public enum CPUAccount {
    private final class Counters: Sendable {
        let read = Atomic<UInt64>(0)
        let digest = Atomic<UInt64>(0)
        let seal = Atomic<UInt64>(0)
        let open = Atomic<UInt64>(0)
        let write = Atomic<UInt64>(0)
        let socket = Atomic<UInt64>(0)
        /// Calls below ``CPUAccount/exactFrom`` bytes so far, for choosing the sampled ones.
        let smallCalls = Atomic<UInt64>(0)

        func add(_ nanoseconds: UInt64, to phase: CPUPhase) {
            switch phase {
            case .read: read.add(nanoseconds, ordering: .relaxed)
            case .digest: digest.add(nanoseconds, ordering: .relaxed)
            case .seal: seal.add(nanoseconds, ordering: .relaxed)
            case .open: open.add(nanoseconds, ordering: .relaxed)
            case .write: write.add(nanoseconds, ordering: .relaxed)
            case .socket: socket.add(nanoseconds, ordering: .relaxed)
            }
        }

        func load(_ phase: CPUPhase) -> UInt64 {
            switch phase {
            case .read: read.load(ordering: .relaxed)
            case .digest: digest.load(ordering: .relaxed)
            case .seal: seal.load(ordering: .relaxed)
            case .open: open.load(ordering: .relaxed)
            case .write: write.load(ordering: .relaxed)
            case .socket: socket.load(ordering: .relaxed)
            }
        }
    }

    private static let counters = Counters()

    /// Calls on at least this many bytes are each measured.
    public static let exactFrom = 16 << 10
    /// One in this many calls on fewer bytes is measured, and counted as this many.
    public static let sampling: UInt64 = 1 << samplingBits
    private static let samplingBits = 4

    /// Runs `body`, which works on `bytes` bytes, counting the calling thread's CPU time in it
    /// toward `phase` (for fewer than ``exactFrom`` bytes, one call in ``sampling``, scaled).
    @inline(__always)
    public static func measure<Result, Failure: Error>(
        _ phase: CPUPhase, bytes: Int, _ body: () throws(Failure) -> Result
    ) throws(Failure) -> Result {
        var weight: UInt64 = 1
        if bytes < exactFrom {
            let call = counters.smallCalls.wrappingAdd(1, ordering: .relaxed).oldValue
            // Fibonacci hashing: the top bits of call × 2^64/φ spread any arithmetic progression
            // of calls evenly, so every phase gets its share of the samples.
            guard (call &* 0x9E37_79B9_7F4A_7C15) >> (64 - samplingBits) == 0 else { return try body() }
            weight = sampling
        }
        let start = threadNanoseconds()
        defer { counters.add((threadNanoseconds() &- start) &* weight, to: phase) }
        return try body()
    }

    /// The threads counted whole, each by its CPU clock (``countCallingThread(toward:)``).
    private static let wholeThreads = Mutex<[(clock: clockid_t, phase: CPUPhase)]>([])

    /// Counts the calling thread's whole CPU time, from the thread's start, toward `phase` in
    /// ``totals``: for a thread that does nothing but that phase's work, where there is no one
    /// call of ours to measure around (the event loops' socket reads and writes). The thread must
    /// live as long as the process; its time is added at every reading of ``totals``.
    public static func countCallingThread(toward phase: CPUPhase) throws(ThreadClockError) {
        var clock = clockid_t()
        let status = pthread_getcpuclockid(pthread_self(), &clock)
        guard status == 0 else { throw ThreadClockError(errno: status) }
        wholeThreads.withLock { $0.append((clock, phase)) }
    }

    /// Nanoseconds per phase since the process started.
    public static var totals: [CPUPhase: UInt64] {
        var totals = Dictionary(uniqueKeysWithValues: CPUPhase.allCases.map { ($0, counters.load($0)) })
        for thread in wholeThreads.withLock({ $0 }) {
            var now = timespec()
            // Fails only for a thread that has exited, whose time is no longer known.
            guard clock_gettime(thread.clock, &now) == 0 else { continue }
            totals[thread.phase, default: 0] &+= nanoseconds(now)
        }
        return totals
    }

    private static func threadNanoseconds() -> UInt64 {
        var now = timespec()
        // CLOCK_THREAD_CPUTIME_ID cannot fail for the calling thread; 0 would only undercount.
        guard clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now) == 0 else { return 0 }
        return nanoseconds(now)
    }

    private static func nanoseconds(_ time: timespec) -> UInt64 {
        UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }
}

/// `pthread_getcpuclockid` refused the calling thread's CPU clock.
public struct ThreadClockError: Error, CustomStringConvertible {
    public let errno: Int32

    public var description: String {
        "cannot read the thread's CPU clock (pthread_getcpuclockid): \(String(cString: strerror(errno)))"
    }
}
