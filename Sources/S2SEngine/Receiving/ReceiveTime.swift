#if canImport(Glibc)
import Glibc
#endif

/// A modification time as an offer carries it: seconds since 1970 (may be negative) and
/// nanoseconds below 10^9 (the decoder refuses more; here a larger value is clamped).
struct ReceiveTime: Sendable, Hashable {
    let seconds: Int64
    let nanoseconds: UInt32

    init(seconds: Int64, nanoseconds: UInt32 = 0) {
        self.seconds = seconds
        self.nanoseconds = min(nanoseconds, 999_999_999)
    }

    var timespec: timespec {
        Glibc.timespec(tv_sec: Int(seconds), tv_nsec: Int(nanoseconds))
    }
}
