import S2SBus
import ArgumentParser
import FoundationEssentials
import S2SClient
import S2SCore

/// `s2sctl transfers`.
struct TransfersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "transfers",
        abstract: "List your queued, running and recently finished transfers (every transfer, for root).",
        discussion: """
            Without options: the transfers that have not finished (queued, paused, running) and \
            those that finished in the last 15 minutes. With --all: the whole history, which the \
            daemon keeps for HistoryRetention= (7 days by default), across restarts. With --clear: \
            forget your finished transfers (every user's, for root) and print how many went.

            Each user's transfers are numbered from 1, and a number is never used twice. Root and \
            administrators see other users' transfers as USER:N (UID:N for a UID without a name), \
            which cancel, pause, resume and set-rate take too.
            """)

    @ParentCommand var root: S2SCtl
    @OptionGroup var output: JSONOption

    @Flag(help: "List the whole history, not only the recent transfers.")
    var all = false

    @Flag(help: "Remove your finished transfers from the history.")
    var clear = false

    func validate() throws {
        if all && clear { throw ValidationError("--all and --clear cannot be combined") }
    }

    func run() async throws {
        let client = try await root.busOptions.client()
        if clear {
            let count = try await client.clearFinished()
            if output.json {
                Output.line("{\"cleared\": \(count)}")
            } else {
                Output.error("Cleared \(count) finished transfer\(count == 1 ? "" : "s").")
            }
            return
        }
        let transfers = try await client.transfers(history: all)
        if output.json {
            try Output.json(transfers)
            return
        }
        if transfers.isEmpty {
            Output.error("No transfers.")
            return
        }
        let directories = await client.endpointDirectories()
        let now = Date()
        let rows = transfers.map { transfer in
            [
                TransferLabel.text(transfer.path), transfer.direction.rawValue, transfer.state.rawValue,
                "\(Units.formatSize(transfer.bytesDone))/\(Units.formatSize(transfer.bytesTotal))",
                "\(transfer.filesDone)/\(transfer.filesTotal)",
                transfer.state.isFinished || transfer.state.isWaiting ? "-" : "\(Units.formatSize(transfer.rate))/s",
                transfer.whatColumn(directory: transfer.endpoint.flatMap { directories[$0] }, now: now),
            ]
        }
        Output.table(header: ["TRANSFER", "DIRECTION", "STATE", "BYTES", "FILES", "RATE", "WHAT"], rows: rows)
    }
}

/// `s2sctl cancel T`.
struct CancelCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cancel",
        abstract: "Cancel a running transfer, outgoing or incoming.",
        discussion: """
            The other side is told and the transfer ends; files the receiver already confirmed stay \
            there, partial data is deleted. A cancelled transfer cannot be resumed: to stop an \
            outgoing transfer for a while, use s2sctl pause.
            """)

    @ParentCommand var root: S2SCtl

    @OptionGroup var target: TransferArgument

    func run() async throws {
        try await target.act(on: root) { try await $0.cancel($1) }
    }
}

/// `s2sctl pause T`.
struct PauseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pause",
        abstract: "Pause an outgoing transfer until s2sctl resume.",
        discussion: """
            A queued transfer stays in the queue without starting; a running one is disconnected \
            without cancelling, so that the receiver keeps what it verified. The transfer stays \
            paused across restarts of the daemon. Only outgoing transfers that have not finished can \
            be paused; only their owner (or root) may.
            """)

    @ParentCommand var root: S2SCtl

    @OptionGroup var target: TransferArgument

    func run() async throws {
        try await target.act(on: root) { try await $0.pause($1) }
    }
}

/// `s2sctl resume T`.
struct ResumeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume",
        abstract: "Resume a paused outgoing transfer.",
        discussion: """
            The transfer goes back into the queue and starts as soon as the limits allow, from what \
            the receiver already holds. Its retry count starts again; its --retry-for deadline does not.
            """)

    @ParentCommand var root: S2SCtl

    @OptionGroup var target: TransferArgument

    func run() async throws {
        try await target.act(on: root) { try await $0.resume($1) }
    }
}

/// `s2sctl set-rate`.
struct SetRateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set-rate",
        abstract: "Change a running transfer's rate limit.",
        discussion: """
            Limits an outgoing transfer's upload, or an incoming transfer's download, to RATE bytes \
            per second from now on: 20M, 512K, 1.5G (binary units, K = 1024), or 0 (also \
            "unlimited") to remove the transfer's own limit. The daemon-wide MaxUploadRate= and \
            MaxDownloadRate= still apply on top ("s2sctl limits").
            """)

    @ParentCommand var root: S2SCtl

    @OptionGroup var target: TransferArgument

    @Argument(help: ArgumentHelp("Bytes per second, e.g. 20M; 0 for no limit.", valueName: "rate"))
    var rate: String

    func validate() throws {
        _ = try SendCommand.parseRate(rate, option: "rate")
    }

    func run() async throws {
        let limit = try SendCommand.parseRate(rate, option: "rate")
        try await target.act(on: root) { try await $0.setRateLimit(limit, of: $1) }
    }
}

/// `s2sctl watch`.
struct WatchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "watch",
        abstract: "Print transfer and endpoint events as they happen, until interrupted.",
        discussion: """
            One line per event. With --json, one JSON object per line (for scripts): \
            {"event": "added" | "progress" | "finished" | "endpoint-added" | "endpoint-removed", \
            "object": PATH, ...}. A progress line gives the percentage and, while data moves, the \
            time left (ETA). Exits 69 (EX_UNAVAILABLE) when the daemon stops.
            """)

    @ParentCommand var root: S2SCtl
    @OptionGroup var output: JSONOption

    struct Line: Encodable {
        let event: String
        let object: String
        var transfer: TransferSnapshot?
        var progress: TransferProgress?
        var state: TransferState?
        var error: String?
    }

    func run() async throws {
        let client = try await root.busOptions.client()
        for await event in try await client.subscribedEvents() {
            switch event {
            case .transferAdded(let path, let properties):
                let info = try TransferSnapshot(path: path, properties: properties)
                var directory: String?
                if let endpoint = info.endpoint, !output.json {
                    directory = try? await client.endpointProperties(endpoint)[EndpointProperty.directory.rawValue]?.stringValue
                }
                emit(
                    Line(event: "added", object: path.rawValue, transfer: info),
                    text: "transfer \(TransferLabel.text(path)) added: \(info.direction.rawValue) \(info.summary(directory: directory))")
            case .transferProgress(let path, let progress):
                let number = TransferLabel.text(path)
                emit(Line(event: "progress", object: path.rawValue, progress: progress), text: "transfer \(number) " + Self.text(progress))
            case .transferFinished(let path, let state, let error):
                let number = TransferLabel.text(path)
                emit(
                    Line(event: "finished", object: path.rawValue, state: state, error: error.isEmpty ? nil : error),
                    text: "transfer \(number) \(state.rawValue)" + (error.isEmpty ? "" : ": \(error)"))
            case .endpointAdded(let path, _):
                emit(Line(event: "endpoint-added", object: path.rawValue), text: "endpoint added: \(path.rawValue)")
            case .endpointRemoved(let path):
                emit(Line(event: "endpoint-removed", object: path.rawValue), text: "endpoint removed: \(path.rawValue)")
            case .daemonVanished:
                throw CommandFailure(message: "s2sd stopped", status: .unavailable)
            case .daemonAppeared:
                continue
            }
        }
        throw CommandFailure(message: "lost the connection to the bus", status: .unavailable)
    }

    /// A progress line for people: `receiving: 40% 4.0 MiB/10.0 MiB, 1/3 files, 2.0 MiB/s, ETA 0:03`.
    static func text(_ progress: TransferProgress) -> String {
        var text = "\(progress.state.rawValue): "
        if progress.bytesTotal > 0 {
            let percent = Int((min(Double(progress.bytesDone) / Double(progress.bytesTotal), 1) * 100).rounded(.down))
            text += "\(percent)% "
        }
        text += "\(Units.formatSize(progress.bytesDone))/\(Units.formatSize(progress.bytesTotal)), "
        text += "\(progress.filesDone)/\(progress.filesTotal) files, \(Units.formatSize(progress.rate))/s"
        if let eta = ProgressBar.secondsLeft(progress) { text += ", ETA \(ProgressBar.clock(eta))" }
        return text
    }

    private func emit(_ line: Line, text: String) {
        if output.json {
            Output.jsonLine(line)
        } else {
            Output.line(text)
        }
    }
}
