public import Foundation
import S2SCore

/// The daemon's timestamps (microseconds since the epoch on the bus) as dates and as RFC 3339
/// text, the form clients print for scripts.
public enum Timestamp {
    public static func date(microseconds: UInt64) -> Date {
        Date(timeIntervalSince1970: Double(microseconds) / 1_000_000)
    }

    /// `2026-01-31T12:00:00Z`: whole seconds, UTC.
    public static func rfc3339(microseconds: UInt64) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date(microseconds: microseconds))
    }
}

extension Timestamp {
    /// A time to come as people read it: `in 42 s (at 06:16:24)` in local time, the date too
    /// when it is not today; `now` once it has passed.
    public static func relative(microseconds: UInt64, now: Date = Date(), timeZone: TimeZone = .current) -> String {
        let when = date(microseconds: microseconds)
        let seconds = when.timeIntervalSince(now)
        guard seconds >= 0.5 else { return "now" }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = timeZone
        formatter.dateFormat = calendar.isDate(when, inSameDayAs: now) ? "HH:mm:ss" : "yyyy-MM-dd HH:mm:ss"
        return "in \(Units.formatDuration(seconds: UInt64(seconds.rounded()), unitSeparator: " ")) (at \(formatter.string(from: when)))"
    }
}
