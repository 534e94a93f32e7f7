import FoundationEssentials
import Glibc
import S2SClient
import S2SCore

/// The progress line of `s2sctl send` on a terminal: percentage, bytes, rate, ETA and the file
/// being sent, redrawn in place on standard error.
struct ProgressBar {
    private var lastWidth = 0
    private let columns: Int

    init() {
        var size = winsize()
        columns = ioctl(STDERR_FILENO, UInt(TIOCGWINSZ), &size) == 0 && size.ws_col > 20 ? Int(size.ws_col) : 80
    }

    /// Whether standard error is a terminal (no bar otherwise: cron mail and logs stay clean).
    static var isAvailable: Bool { isatty(STDERR_FILENO) == 1 }

    mutating func draw(_ progress: TransferProgress) {
        let fraction = progress.bytesTotal > 0 ? Double(progress.bytesDone) / Double(progress.bytesTotal) : 0
        let percent = Int((min(fraction, 1) * 100).rounded(.down))
        var text = Self.padded(percent, width: 3) + "% "
        let barWidth = 20
        let filled = Int(Double(barWidth) * min(fraction, 1))
        text += "[" + String(repeating: "#", count: filled) + String(repeating: "-", count: barWidth - filled) + "] "
        text += "\(Units.formatSize(progress.bytesDone)) / \(Units.formatSize(progress.bytesTotal))"
        if progress.rate > 0 { text += "  \(Units.formatSize(progress.rate))/s" }
        if let left = Self.secondsLeft(progress) { text += "  ETA \(Self.clock(left))" }
        if progress.filesTotal > 1 { text += "  \(progress.filesDone)/\(progress.filesTotal) files" }
        if progress.state == .verifying { text += "  verifying" } else if !progress.currentFile.isEmpty {
            text += "  " + progress.currentFile
        }
        if text.count > columns - 1 { text = String(text.prefix(columns - 1)) }
        let padding = max(0, lastWidth - text.count)
        lastWidth = text.count
        Output.write("\r" + text + String(repeating: " ", count: padding), to: STDERR_FILENO)
    }

    /// Ends the line the bar was drawn on.
    mutating func finish() {
        guard lastWidth > 0 else { return }
        Output.write("\n", to: STDERR_FILENO)
        lastWidth = 0
    }

    /// The seconds left at the current rate; nil while nothing moves.
    static func secondsLeft(_ progress: TransferProgress) -> UInt64? {
        guard progress.rate > 0 else { return nil }
        return progress.bytesTotal > progress.bytesDone ? (progress.bytesTotal - progress.bytesDone) / progress.rate : 0
    }

    /// `m:ss`, or `h:mm:ss` from an hour.
    static func clock(_ seconds: UInt64) -> String {
        let hours = seconds / 3600
        let minutes = seconds / 60 % 60
        let tail = ":" + twoDigits(seconds % 60)
        return hours > 0 ? "\(hours):" + twoDigits(minutes) + tail : "\(minutes)" + tail
    }

    /// `n` right-aligned in `width` columns (String(format:) would bring ICU along).
    static func padded(_ n: Int, width: Int) -> String {
        let digits = String(n)
        return String(repeating: " ", count: max(0, width - digits.count)) + digits
    }

    private static func twoDigits(_ n: UInt64) -> String {
        n < 10 ? "0\(n)" : "\(n)"
    }
}
