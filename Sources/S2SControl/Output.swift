import Foundation

/// Writing to standard output and standard error, unbuffered by line so that scripts reading a
/// pipe see each line as soon as it is printed.
enum Output {
    static func line(_ text: String) {
        FileHandle.standardOutput.write(Data((text + "\n").utf8))
    }

    static func error(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }

    /// Pretty-printed JSON with sorted keys.
    static func json<T: Encodable>(_ value: T) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let text = String(decoding: try encoder.encode(value), as: UTF8.self)
        // Foundation on Linux pretty-prints an empty array as "[", a blank line and "]".
        let compact = text.filter { !$0.isWhitespace }
        line(compact == "[]" || compact == "{}" ? compact : text)
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
                index == cells.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }
        line(render(header))
        for row in rows { line(render(row)) }
    }
}
