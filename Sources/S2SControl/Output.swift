import FoundationEssentials
import Glibc

/// Writing to standard output and standard error, unbuffered by line so that scripts reading a
/// pipe see each line as soon as it is printed.
enum Output {
    static func line(_ text: String) {
        write(text + "\n", to: STDOUT_FILENO)
    }

    static func error(_ text: String) {
        write(text + "\n", to: STDERR_FILENO)
    }

    /// A question on standard error, the answer to be typed on the same line.
    static func prompt(_ text: String) {
        write(text, to: STDERR_FILENO)
    }

    /// Writes all of `text` to `descriptor`, retrying after signals and short writes; a closed
    /// pipe (EPIPE) or another error drops the rest, as a reader that went away wants.
    static func write(_ text: String, to descriptor: Int32) {
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
            if written < 0 {
                guard errno == EINTR else { return }
                continue
            }
            bytes = bytes.dropFirst(written)
        }
    }

    /// Pretty-printed JSON with sorted keys.
    static func json<T: Encodable>(_ value: T) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let text = String(decoding: try encoder.encode(value), as: UTF8.self)
        line(compactingEmptyContainers(text))
    }

    /// Foundation on Linux pretty-prints an empty array or object as "[" or "{", a blank line and
    /// "]" or "}", at any depth: writes those as `[]` and `{}`.
    static func compactingEmptyContainers(_ text: String) -> String {
        var lines: [Substring] = []
        let input = text.split(separator: "\n", omittingEmptySubsequences: false)
        var index = 0
        while index < input.count {
            let current = input[index]
            if index + 2 < input.count, current.hasSuffix("[") || current.hasSuffix("{"),
                input[index + 1].allSatisfy(\.isWhitespace),
                let close = input[index + 2].first(where: { !$0.isWhitespace }), close == "]" || close == "}"
            {
                let rest = input[index + 2].drop { $0.isWhitespace }.dropFirst()
                lines.append(current + String(close) + rest)
                index += 3
            } else {
                lines.append(current)
                index += 1
            }
        }
        return lines.joined(separator: "\n")
    }

    /// Compact JSON on one line (for event streams); nothing if it cannot be encoded.
    static func jsonLine<T: Encodable>(_ value: T) {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        guard let data = try? encoder.encode(value) else { return }
        line(String(decoding: data, as: UTF8.self))
    }

    /// `Label: value` lines with the labels right-aligned on their colons, as systemctl status
    /// and `s2sctl endpoint show` print them.
    static func details(_ lines: [(String, String)]) {
        let width = lines.map(\.0.count).max() ?? 0
        for (label, value) in lines {
            line(String(repeating: " ", count: width - label.count) + label + ": " + value)
        }
    }

    /// A table for people: a header, then left-aligned columns separated by two spaces.
    static func table(header: [String], rows: [[String]]) {
        var widths = header.map(\.count)
        for row in rows {
            for (index, cell) in row.enumerated() where index < widths.count {
                widths[index] = max(widths[index], cell.count)
            }
        }
        func render(_ cells: [String]) -> String {
            cells.enumerated().map { index, cell in
                index == cells.count - 1 ? cell : cell + String(repeating: " ", count: max(0, widths[index] - cell.count))
            }.joined(separator: "  ")
        }
        line(render(header))
        for row in rows { line(render(row)) }
    }
}
