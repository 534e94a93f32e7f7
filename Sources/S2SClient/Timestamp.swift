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
