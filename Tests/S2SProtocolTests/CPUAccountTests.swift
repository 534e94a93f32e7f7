import Testing
@testable import S2SProtocol

/// The hot path's CPU counters: they count the thread's CPU time, not time spent waiting; small
/// calls, sampled, still count about what they cost, each phase of an alternating pattern too.
struct CPUAccountTests {
    /// Burns the CPU for a while (a few tens of microseconds per 100,000 rounds).
    private static func spin(_ rounds: Int) -> UInt64 {
        var sum: UInt64 = 0
        for index in 0..<rounds { sum &+= UInt64(index) &* 2_654_435_761 }
        return sum
    }

    /// The thread's CPU time, as the counters read it.
    private static func threadCPU() -> UInt64 {
        var now = timespec()
        _ = clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }

    @Test func smallCallsInAnAlternatingPatternAreEachCountedAboutRight() {
        let before = CPUAccount.totals
        let started = Self.threadCPU()
        var sum: UInt64 = 0
        // Two phases taking turns, as a file's records and its digest do.
        for _ in 0..<2_000 {
            sum &+= CPUAccount.measure(.read, bytes: 100) { Self.spin(50_000) }
            sum &+= CPUAccount.measure(.seal, bytes: 100) { Self.spin(50_000) }
        }
        #expect(sum != 1)
        let spent = Self.threadCPU() - started
        for phase in [CPUPhase.read, .seal] {
            let counted = (CPUAccount.totals[phase] ?? 0) - (before[phase] ?? 0)
            // Each phase took half of `spent`; its sampled estimate is within a few per cent of
            // that with 4,000 calls. (Other tests running at once can only add to the totals.)
            #expect(counted > spent / 4, "\(phase): \(counted) ns counted of about \(spent / 2)")
        }
    }

    @Test func aThreadCountedWholeCountsAllItsTime() throws {
        let before = CPUAccount.totals[.socket] ?? 0
        // This test's thread from now on (and its time so far: the clock starts with the thread),
        // as the event loops' threads are counted; no call is measured.
        try CPUAccount.countCallingThread(toward: .socket)
        let started = Self.threadCPU()
        #expect(Self.spin(20_000_000) != 1)
        let spent = Self.threadCPU() - started
        let counted = (CPUAccount.totals[.socket] ?? 0) - before
        #expect(counted >= spent, "\(counted) ns counted for a thread that spun \(spent) ns")
    }

    @Test func busyTimeCountsAndSleepDoesNot() throws {
        let before = CPUAccount.totals
        var sum: UInt64 = 0
        CPUAccount.measure(.digest, bytes: CPUAccount.exactFrom) {
            for index in 0..<20_000_000 { sum &+= UInt64(index) &* 2_654_435_761 }
        }
        #expect(sum != 1)
        let busy = (CPUAccount.totals[.digest] ?? 0) - (before[.digest] ?? 0)
        #expect(busy > 1_000_000, "at least a millisecond of CPU for 20 million multiplications")
        let beforeSleep = CPUAccount.totals[.write] ?? 0
        try CPUAccount.measure(.write, bytes: CPUAccount.exactFrom) { () throws(CancellationError) in
            let until = ContinuousClock.now + .milliseconds(300)
            while ContinuousClock.now < until { usleepPolitely() }
        }
        let asleep = (CPUAccount.totals[.write] ?? 0) - beforeSleep
        #expect(asleep < 200_000_000, "300 ms asleep is far less than 200 ms of CPU")
        #expect(Set(CPUAccount.totals.keys) == Set(CPUPhase.allCases))
    }
}

#if canImport(Glibc)
import Glibc
private func usleepPolitely() { usleep(10_000) }
#endif
