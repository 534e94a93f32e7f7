#if canImport(Glibc)
import Glibc
#endif

/// Wall-clock time in the units of the API and the database: microseconds since the epoch.
package enum Clock {
    package static var nowMicroseconds: UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_REALTIME, &time)
        return UInt64(time.tv_sec) * 1_000_000 + UInt64(time.tv_nsec / 1000)
    }
}
