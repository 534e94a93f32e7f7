public import FoundationEssentials
import S2SCore

/// The daemon's timestamps (microseconds since the epoch on the bus) as dates and as RFC 3339
/// text, the form clients print for scripts.
public enum Timestamp {
    public static func date(microseconds: UInt64) -> Date {
        Date(timeIntervalSince1970: Double(microseconds) / 1_000_000)
    }

    /// `2026-01-31T12:00:00Z`: whole seconds, UTC.
    public static func rfc3339(microseconds: UInt64) -> String {
        LocalTime.rfc3339(date(microseconds: microseconds))
    }
}

extension Timestamp {
    /// A time to come as people read it: `in 42 s (at 06:16:24)` in local time (or at
    /// `utcOffset` seconds from UTC), the date too when it is not today; `now` once it has passed.
    public static func relative(microseconds: UInt64, now: Date = Date(), utcOffset: Int? = nil) -> String {
        let when = date(microseconds: microseconds)
        let seconds = when.timeIntervalSince(now)
        guard seconds >= 0.5 else { return "now" }
        let format = LocalTime.sameDay(when, now, utcOffset: utcOffset) ? "%H:%M:%S" : "%Y-%m-%d %H:%M:%S"
        let at = LocalTime.format(when, format, utcOffset: utcOffset)
        return "in \(Units.formatDuration(seconds: UInt64(seconds.rounded()), unitSeparator: " ")) (at \(at))"
    }
}
