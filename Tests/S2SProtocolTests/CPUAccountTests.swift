import Testing
@testable import S2SProtocol

/// The hot path's CPU counters: they count the thread's CPU time, not time spent waiting.
struct CPUAccountTests {
    @Test func busyTimeCountsAndSleepDoesNot() throws {
        let before = CPUAccount.totals
        var sum: UInt64 = 0
        CPUAccount.measure(.digest) {
            for index in 0..<20_000_000 { sum &+= UInt64(index) &* 2_654_435_761 }
        }
        #expect(sum != 1)
        let busy = (CPUAccount.totals[.digest] ?? 0) - (before[.digest] ?? 0)
        #expect(busy > 1_000_000, "at least a millisecond of CPU for 20 million multiplications")
        let beforeSleep = CPUAccount.totals[.write] ?? 0
        try CPUAccount.measure(.write) { () throws(CancellationError) in
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
