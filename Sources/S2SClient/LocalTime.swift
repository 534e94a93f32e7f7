public import FoundationEssentials
#if canImport(Glibc)
import Glibc
#endif

/// Dates as text with the C library (`strftime`, `strptime`, `timegm`), not with Foundation's
/// formatters: those go through ICU, whose 30 MB of data would otherwise be linked into every
/// program of the package for a few timestamps.
public enum LocalTime {
    /// `strftime(format)` of `date`, in the machine's time zone (`TZ`), or at `utcOffset`
    /// seconds from UTC when given (tests, and UTC itself with 0).
    public static func format(_ date: Date, _ format: String, utcOffset: Int? = nil) -> String {
        var seconds = time_t(date.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        if let utcOffset {
            seconds += time_t(utcOffset)
            gmtime_r(&seconds, &parts)
        } else {
            localtime_r(&seconds, &parts)
        }
        var buffer = [CChar](repeating: 0, count: 128)
        let count = strftime(&buffer, buffer.count, format, &parts)
        return String(decoding: buffer.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Whether two dates fall on the same calendar day there.
    public static func sameDay(_ a: Date, _ b: Date, utcOffset: Int? = nil) -> Bool {
        format(a, "%Y-%m-%d", utcOffset: utcOffset) == format(b, "%Y-%m-%d", utcOffset: utcOffset)
    }

    /// `2026-01-31T12:00:00Z`: RFC 3339, whole seconds, UTC.
    public static func rfc3339(_ date: Date) -> String {
        format(date, "%Y-%m-%dT%H:%M:%SZ", utcOffset: 0)
    }

    /// The date of an RFC 3339 text in the form ``rfc3339(_:)`` writes (`YYYY-MM-DDTHH:MM:SSZ`);
    /// nil for anything else.
    public static func date(rfc3339 text: String) -> Date? {
        let bytes = Array(text.utf8)
        guard bytes.count == 20, bytes[4] == UInt8(ascii: "-"), bytes[7] == UInt8(ascii: "-"), bytes[10] == UInt8(ascii: "T"),
            bytes[13] == UInt8(ascii: ":"), bytes[16] == UInt8(ascii: ":"), bytes[19] == UInt8(ascii: "Z")
        else { return nil }
        func number(_ range: Range<Int>) -> Int32? { Int32(String(decoding: bytes[range], as: UTF8.self)) }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10), let hour = number(11..<13),
            let minute = number(14..<16), let second = number(17..<19)
        else { return nil }
        var parts = tm()
        parts.tm_year = year - 1900
        parts.tm_mon = month - 1
        parts.tm_mday = day
        parts.tm_hour = hour
        parts.tm_min = minute
        parts.tm_sec = second
        return Date(timeIntervalSince1970: TimeInterval(timegm(&parts)))
    }
}
