/// Sizes and durations as people write them on command lines and in configuration files, in the
/// style of systemd: `10G`, `1.5GiB`, `4096`; `30s`, `5min`, `1h 30min`, `7d`.
public enum Units {
    public struct ParseError: Error, Sendable, Equatable, CustomStringConvertible {
        public let text: String
        public let expected: String
        public var description: String { "\"\(text)\" is not \(expected)" }
    }

    static let sizeExpectation = "a size (a number of bytes, or with K, M, G, T or P, e.g. 512M, 1.5G)"
    static let durationExpectation = "a duration (e.g. 30s, 10min, 2h, 7d, or a number of seconds)"

    /// Parses a size in bytes; suffixes are binary (K = 1024).
    public static func parseSize(_ text: String) throws(ParseError) -> UInt64 {
        let failure = ParseError(text: text, expected: sizeExpectation)
        let trimmed = text.trimmingWhitespace
        let (number, unit) = splitNumber(trimmed)
        guard !number.isEmpty else { throw failure }
        let multipliers: [String: UInt64] = [
            "": 1, "b": 1,
            "k": 1 << 10, "kb": 1 << 10, "kib": 1 << 10,
            "m": 1 << 20, "mb": 1 << 20, "mib": 1 << 20,
            "g": 1 << 30, "gb": 1 << 30, "gib": 1 << 30,
            "t": 1 << 40, "tb": 1 << 40, "tib": 1 << 40,
            "p": 1 << 50, "pb": 1 << 50, "pib": 1 << 50,
        ]
        guard let multiplier = multipliers[unit.lowercased().trimmingWhitespace] else { throw failure }
        guard let value = scaled(number, by: multiplier) else { throw failure }
        return value
    }

    static let rateExpectation = "a rate in bytes per second (e.g. 20M, 512K, 1.5G/s), or 0 or unlimited for none"

    /// Parses a rate limit in bytes per second: a size (binary suffixes, as ``parseSize(_:)``)
    /// optionally followed by `/s`; `0`, `unlimited`, `none` and `off` mean no limit (0).
    public static func parseRate(_ text: String) throws(ParseError) -> UInt64 {
        let trimmed = text.trimmingWhitespace
        if ["unlimited", "none", "off"].contains(trimmed.lowercased()) { return 0 }
        let size = trimmed.lowercased().hasSuffix("/s") ? String(trimmed.dropLast(2)) : trimmed
        do {
            return try parseSize(size)
        } catch {
            throw ParseError(text: text, expected: rateExpectation)
        }
    }

    /// "20 MiB/s", or "unlimited" for 0.
    public static func formatRate(_ bytesPerSecond: UInt64) -> String {
        bytesPerSecond == 0 ? "unlimited" : formatSize(bytesPerSecond) + "/s"
    }

    /// Parses a duration into whole seconds; several terms add up (`1h 30min`).
    public static func parseDuration(_ text: String) throws(ParseError) -> UInt64 {
        let failure = ParseError(text: text, expected: durationExpectation)
        var rest = Substring(text.trimmingWhitespace)
        guard !rest.isEmpty else { throw failure }
        let multipliers: [String: UInt64] = [
            "": 1, "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1,
            "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60,
            "h": 3600, "hr": 3600, "hour": 3600, "hours": 3600,
            "d": 86400, "day": 86400, "days": 86400,
            "w": 604_800, "week": 604_800, "weeks": 604_800,
        ]
        var total: UInt64 = 0
        while !rest.isEmpty {
            let (number, afterNumber) = splitNumber(String(rest))
            guard !number.isEmpty else { throw failure }
            let unit = afterNumber.prefix { $0.isLetter }
            guard let multiplier = multipliers[unit.lowercased()], let term = scaled(number, by: multiplier) else { throw failure }
            let (sum, overflow) = total.addingReportingOverflow(term)
            guard !overflow else { throw failure }
            total = sum
            rest = Substring(String(afterNumber.dropFirst(unit.count)).trimmingWhitespace)
        }
        return total
    }

    /// "1.5 GiB", "512 B".
    public static func formatSize(_ bytes: UInt64) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
        var value = Double(bytes)
        var index = 0
        while value >= 1024, index < units.count - 1 {
            value /= 1024
            index += 1
        }
        if index == 0 { return "\(bytes) B" }
        let rounded = (value * 10).rounded() / 10
        let text = rounded == rounded.rounded() ? String(Int(rounded)) : String(rounded)
        return "\(text) \(units[index])"
    }

    /// "2d 3h", "5min", "45s": the two largest units; with `unitSeparator` " ", "2 d 3 h" (for
    /// sentences: "retrying in 42 s").
    public static func formatDuration(seconds: UInt64, unitSeparator: String = "") -> String {
        let parts: [(UInt64, String)] = [(86400, "d"), (3600, "h"), (60, "min"), (1, "s")]
        var rest = seconds
        var terms: [String] = []
        for (size, name) in parts where rest >= size && terms.count < 2 {
            terms.append("\(rest / size)\(unitSeparator)\(name)")
            rest %= size
        }
        return terms.isEmpty ? "0\(unitSeparator)s" : terms.joined(separator: " ")
    }

    /// Splits leading digits (with at most one decimal point) from the rest.
    private static func splitNumber(_ text: String) -> (String, String) {
        var seenPoint = false
        let number = text.prefix { character in
            if character == "." && !seenPoint {
                seenPoint = true
                return true
            }
            return character.isASCII && character.isNumber
        }
        return (String(number), String(text.dropFirst(number.count)))
    }

    /// `number` (decimal text, maybe with a fraction) times `multiplier`, exactly, or nil on
    /// overflow or a fraction finer than one unit.
    private static func scaled(_ number: String, by multiplier: UInt64) -> UInt64? {
        let pieces = number.split(separator: ".", omittingEmptySubsequences: false)
        guard pieces.count <= 2, let wholeText = pieces.first, !(wholeText.isEmpty && pieces.count == 1) else { return nil }
        let whole = wholeText.isEmpty ? 0 : UInt64(wholeText)
        guard let whole else { return nil }
        let (base, overflow) = whole.multipliedReportingOverflow(by: multiplier)
        guard !overflow else { return nil }
        guard pieces.count == 2 else { return base }
        let fractionText = pieces[1]
        guard !fractionText.isEmpty, fractionText.count <= 9, let fraction = UInt64(fractionText) else { return nil }
        var scale: UInt64 = 1
        for _ in 0..<fractionText.count { scale *= 10 }
        let (fractionPart, overflowFraction) = fraction.multipliedReportingOverflow(by: multiplier)
        guard !overflowFraction else { return nil }
        let (sum, overflowSum) = base.addingReportingOverflow(fractionPart / scale)
        return overflowSum ? nil : sum
    }
}
