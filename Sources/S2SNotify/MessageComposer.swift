import S2SBus
public import S2SClient
public import S2SCore

/// The words of every notification the agent shows, in one place: what a running transfer, a
/// finished batch, a failure and an interruption look like. Pure: the same inputs give the same
/// text, which the unit tests pin down.
///
/// The summary is plain text (the specification allows no markup there); the body is escaped for
/// servers that read markup. Buttons are offered only to servers that show actions.
public struct MessageComposer: Sendable {
    public var capabilities: ServerCapabilities

    public init(capabilities: ServerCapabilities) {
        self.capabilities = capabilities
    }

    // MARK: Running

    /// A running transfer: what, how far, where; a progress bar and "Cancel".
    public func running(_ transfer: TransferSnapshot, endpointDirectory: String?) -> NotificationContent {
        let verb = transfer.direction == .receive ? "Receiving" : "Sending"
        let percent = Self.percent(transfer.bytesDone, of: transfer.bytesTotal)
        var lines: [String]
        switch transfer.state {
        case .connecting:
            lines = ["Connecting…"]
        case .queued:
            lines = ["Waiting in the queue…"]
        case .paused:
            lines = [transfer.direction == .receive ? "Paused by the sender" : "Paused"]
        case .verifying:
            lines = ["\(Units.formatSize(transfer.bytesTotal)) sent, waiting for the receiver to confirm"]
        default:
            var line = transfer.bytesTotal > 0
                ? "\(Units.formatSize(transfer.bytesDone)) of \(Units.formatSize(transfer.bytesTotal))"
                : "Starting…"
            if transfer.rate > 0 { line += ", \(Units.formatSize(transfer.rate))/s" }
            lines = [line]
        }
        lines.append(place(of: transfer, endpointDirectory: endpointDirectory))
        return NotificationContent(
            summary: "\(verb) \(Self.describe(transfer.subject, files: transfer.filesTotal))",
            body: body(lines), icon: transfer.direction == .receive ? "folder-download" : "document-send",
            progress: transfer.bytesTotal > 0 ? percent : nil, urgency: .normal, category: "transfer",
            actions: capabilities.actions ? [.cancel(transfer.path)] : [], expireTimeout: 0)
    }

    // MARK: Finished

    /// Transfers that finished well into one endpoint or to one destination, coalesced.
    public func finished(
        _ batch: ArrivalBatch, direction: TransferDirection, endpointDirectory: String?, destination: String
    ) -> NotificationContent {
        let what: String
        let noun: String
        switch batch.subject {
        case .file(let name)?:
            what = "\(name) (\(Units.formatSize(batch.bytes)))"
            noun = "File"
        case .folder(let name)?:
            what = "Folder \(name) (\(Self.count(batch.files, "file")), \(Units.formatSize(batch.bytes)))"
            noun = "Folder"
        default:
            what = "\(Self.count(batch.files, "file")) (\(Units.formatSize(batch.bytes)))"
            noun = batch.files == 1 ? "File" : "Files"
        }
        let plural = batch.subject == nil && batch.files != 1
        switch direction {
        case .receive:
            let folder = endpointDirectory.map(Self.lastComponent) ?? "your endpoint"
            var actions: [NotificationContent.Action] = []
            if capabilities.actions, let endpointDirectory {
                actions = [.openFolder(directory: endpointDirectory, items: batch.names.map { Self.join(endpointDirectory, $0) })]
            }
            return NotificationContent(
                summary: "\(noun) received", body: body(["\(what) arrived in \(folder)"]), icon: "folder-download",
                urgency: .normal, category: "transfer.complete", actions: actions)
        case .send:
            return NotificationContent(
                summary: "\(noun) sent",
                body: body(["\(what) \(plural ? "were" : "was") delivered to \(Self.shortDestination(destination))"]),
                icon: "document-send", urgency: .normal, category: "transfer.complete")
        }
    }

    /// A transfer that failed or was cancelled, with the daemon's reason.
    public func ended(_ transfer: TransferSnapshot, endpointDirectory: String?) -> NotificationContent {
        let verb = transfer.direction == .receive ? "Receiving" : "Sending"
        let outcome = transfer.state == .cancelled ? "cancelled" : "failed"
        let reason = transfer.error ?? "no reason given"
        var lines = ["\(Self.capitalized(reason))"]
        if transfer.bytesTotal > 0 {
            lines.append("\(Units.formatSize(transfer.bytesDone)) of \(Units.formatSize(transfer.bytesTotal)) moved")
        }
        lines.append(place(of: transfer, endpointDirectory: endpointDirectory))
        return NotificationContent(
            summary: "\(verb) \(Self.describe(transfer.subject, files: transfer.filesTotal)) \(outcome)", body: body(lines),
            icon: transfer.state == .cancelled ? "process-stop" : "dialog-error",
            urgency: transfer.state == .cancelled ? .normal : .critical, category: "transfer.error")
    }

    /// A running transfer whose daemon went away: it stopped; a retry resumes it.
    public func interrupted(_ transfer: TransferSnapshot, endpointDirectory: String?) -> NotificationContent {
        let verb = transfer.direction == .receive ? "Receiving" : "Sending"
        let advice = transfer.direction == .receive
            ? "s2sd stopped. When the sender tries again, the transfer resumes."
            : "s2sd stopped. Send the same files again to resume."
        return NotificationContent(
            summary: "\(verb) \(Self.describe(transfer.subject, files: transfer.filesTotal)) interrupted",
            body: body([advice, place(of: transfer, endpointDirectory: endpointDirectory)]), icon: "dialog-warning",
            urgency: .normal, category: "transfer.error")
    }

    // MARK: Pieces

    private func place(of transfer: TransferSnapshot, endpointDirectory: String?) -> String {
        switch transfer.direction {
        case .receive: "into \(endpointDirectory.map(Self.lastComponent) ?? "your endpoint")"
        case .send: "to \(Self.shortDestination(transfer.destination ?? ""))"
        }
    }

    private func body(_ lines: [String]) -> String {
        let text = lines.joined(separator: "\n")
        return capabilities.bodyMarkup ? XMLText.escape(text) : text
    }

    /// "report.pdf", "folder photos", "3 items", "files".
    static func describe(_ subject: TransferSnapshot.Subject, files: UInt64) -> String {
        switch subject {
        case .file(let name): name
        case .folder(let name): "folder \(name)"
        case .items(let count): count == 1 ? "1 item" : "\(count) items"
        case .unknown: files > 0 ? count(files, "file") : "files"
        }
    }

    static func count(_ number: UInt64, _ noun: String) -> String {
        "\(number) \(noun)\(number == 1 ? "" : "s")"
    }

    static func percent(_ done: UInt64, of total: UInt64) -> Int {
        guard total > 0 else { return 0 }
        return Int(min(100, Double(done) * 100 / Double(total)))
    }

    /// `ID@HOST:PORT` with the 62-character ID shortened: "s2s1qpzr…8d7l at nas:7730".
    static func shortDestination(_ destination: String) -> String {
        guard let at = destination.lastIndex(of: "@") else { return shorten(destination) }
        return "\(shorten(String(destination[..<at]))) at \(destination[destination.index(after: at)...])"
    }

    static func shorten(_ id: String) -> String {
        id.count > 16 ? "\(id.prefix(8))…\(id.suffix(4))" : id
    }

    static func lastComponent(_ path: String) -> String {
        path.split(separator: "/").last.map(String.init) ?? path
    }

    static func join(_ directory: String, _ name: String) -> String {
        directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }

    static func capitalized(_ text: String) -> String {
        guard let first = text.first else { return text }
        return first.uppercased() + text.dropFirst()
    }
}
