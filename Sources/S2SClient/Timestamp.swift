public import Foundation

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
        return "in \(span(seconds: UInt64(seconds.rounded()))) (at \(formatter.string(from: when)))"
    }

    /// `42 s`, `3 min 5 s`, `2 h 5 min`, `3 d 4 h`: the two largest units.
    public static func span(seconds: UInt64) -> String {
        let units: [(UInt64, String)] = [(86_400, "d"), (3_600, "h"), (60, "min"), (1, "s")]
        var rest = seconds
        var terms: [String] = []
        for (size, name) in units where rest >= size && terms.count < 2 {
            terms.append("\(rest / size) \(name)")
            rest %= size
        }
        return terms.isEmpty ? "0 s" : terms.joined(separator: " ")
    }
}
