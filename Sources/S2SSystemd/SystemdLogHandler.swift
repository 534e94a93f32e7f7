import CSystemd
public import Logging
#if canImport(Glibc)
import Glibc
#endif

/// A swift-log handler for a daemon: structured entries to the journal when running under
/// systemd, plain lines on standard error otherwise.
///
/// In the journal each metadata key becomes a field (`S2S_` and the key in upper case), so that
/// `journalctl S2S_ENDPOINT=...` finds every entry about one endpoint.
public struct SystemdLogHandler: LogHandler {
    public enum Destination: Sendable {
        case journal
        case standardError
    }

    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let label: String
    private let destination: Destination
    private let identifier: String

    public init(label: String, identifier: String, destination: Destination, level: Logger.Level) {
        self.label = label
        self.identifier = identifier
        self.destination = destination
        self.logLevel = level
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        if let error = event.error { merged["error"] = "\(error)" }
        switch destination {
        case .journal:
            if sendToJournal(event, merged) { return }
            writeLine(event, merged)
        case .standardError:
            writeLine(event, merged)
        }
    }

    /// The message as `journalctl` shows it: a line about a transfer or an endpoint names it
    /// first ("transfer 12: send queued"), so that the log reads without its structured fields.
    static func text(_ message: Logger.Message, _ metadata: Logger.Metadata) -> String {
        for subject in ["transfer", "endpoint"] {
            if let value = metadata[subject] { return "\(subject) \(value): \(message)" }
        }
        return "\(message)"
    }

    private func sendToJournal(_ event: LogEvent, _ metadata: Logger.Metadata) -> Bool {
        var fields = [
            "MESSAGE=\(Self.text(event.message, metadata))",
            "PRIORITY=\(Self.syslogPriority(event.level))",
            "SYSLOG_IDENTIFIER=\(identifier)",
            "CODE_FILE=\(event.file)",
            "CODE_LINE=\(event.line)",
            "CODE_FUNC=\(event.function)",
            "S2S_SUBSYSTEM=\(label)",
        ]
        for (key, value) in metadata {
            fields.append("S2S_\(Self.journalFieldName(key))=\(value)")
        }
        let cStrings = fields.map { strdup($0) }
        defer { cStrings.forEach { free($0) } }
        var vectors = cStrings.map { iovec(iov_base: UnsafeMutableRawPointer($0), iov_len: $0.map { strlen($0) } ?? 0) }
        return sd_journal_sendv(&vectors, Int32(vectors.count)) >= 0
    }

    private func writeLine(_ event: LogEvent, _ metadata: Logger.Metadata) {
        let fields = metadata.sorted { $0.key < $1.key }.map { " \($0.key)=\($0.value)" }.joined()
        let line = "\(identifier)[\(getpid())]: \(event.level): \(Self.text(event.message, metadata))\(fields)\n"
        var bytes = Array(line.utf8)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress.map { $0 + offset }, $0.count - offset) }
            if written < 0 && errno == EINTR { continue }
            guard written > 0 else { return }
            offset += written
        }
        bytes.removeAll()
    }

    static func syslogPriority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: 7
        case .info: 6
        case .notice: 5
        case .warning: 4
        case .error: 3
        case .critical: 2
        }
    }

    /// Journal field names are `[A-Z0-9_]`, not starting with `_` (which is for trusted fields).
    static func journalFieldName(_ key: String) -> String {
        String(key.uppercased().map { ($0.isASCII && ($0.isLetter || $0.isNumber)) ? $0 : "_" })
    }
}
