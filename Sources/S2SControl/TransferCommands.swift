import ArgumentParser
import S2SBus
import S2SClient
import S2SCore

/// `s2sctl transfers`.
struct TransfersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "transfers",
        abstract: "List your running and recently finished transfers (every transfer, for root).",
        discussion: "Finished transfers stay listed for 15 minutes after they end.")

    @ParentCommand var root: S2SCtl
    @OptionGroup var output: JSONOption

    func run() async throws {
        let client = try await root.busOptions.client()
        let transfers = try await client.objects("ListTransfers").map { try TransferInfo(object: $0.0, properties: $0.1) }
        if output.json {
            try Output.json(transfers)
            return
        }
        if transfers.isEmpty {
            Output.error("No transfers.")
            return
        }
        let rows = transfers.map { transfer in
            [
                String(transfer.number), transfer.direction, transfer.state,
                "\(Units.formatSize(transfer.bytesDone))/\(Units.formatSize(transfer.bytesTotal))",
                "\(transfer.filesDone)/\(transfer.filesTotal)",
                transfer.isFinished ? "-" : "\(Units.formatSize(transfer.rate))/s",
                transfer.error.map { "\(transfer.summary): \($0)" } ?? transfer.summary,
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
            there, partial data is deleted. A cancelled transfer cannot be resumed: to pause one, stop \
            the daemon instead.
            """)

    @ParentCommand var root: S2SCtl

    @Argument(help: ArgumentHelp("The transfer: its number (from s2sctl transfers) or object path.", valueName: "transfer"))
    var transfer: String

    func validate() throws {
        guard TransferInfo.path(from: transfer) != nil else {
            throw ValidationError("\"\(transfer)\" is not a transfer number or object path")
        }
    }

    func run() async throws {
        guard let path = TransferInfo.path(from: transfer) else { throw ValidationError("bad transfer") }
        let client = try await root.busOptions.client()
        _ = try await client.call(path: path, interface: DaemonAPI.transferInterface, member: "Cancel")
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

    @Argument(help: ArgumentHelp("The transfer: its number (from s2sctl transfers) or object path.", valueName: "transfer"))
    var transfer: String

    @Argument(help: ArgumentHelp("Bytes per second, e.g. 20M; 0 for no limit.", valueName: "rate"))
    var rate: String

    func validate() throws {
        guard TransferInfo.path(from: transfer) != nil else {
            throw ValidationError("\"\(transfer)\" is not a transfer number or object path")
        }
        _ = try SendCommand.parseRate(rate, option: "rate")
    }

    func run() async throws {
        guard let path = TransferInfo.path(from: transfer) else { throw ValidationError("bad transfer") }
        let bytesPerSecond = try SendCommand.parseRate(rate, option: "rate")
        let client = try await root.busOptions.client()
        _ = try await client.call(path: path, interface: DaemonAPI.transferInterface, member: "SetRateLimit", [.uint64(bytesPerSecond)])
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
            "object": PATH, ...}. Exits 1 when the daemon stops.
            """)

    @ParentCommand var root: S2SCtl
    @OptionGroup var output: JSONOption

    struct Line: Encodable {
        let event: String
        let object: String
        var transfer: TransferInfo?
        var progress: TransferProgress?
        var state: String?
        var error: String?
    }

    func run() async throws {
        let client = try await root.busOptions.client()
        for await event in try await client.events() {
            switch event {
            case .transferAdded(let path, let properties):
                let info = try TransferInfo(object: path, properties: properties)
                emit(Line(event: "added", object: path.rawValue, transfer: info), text: "transfer \(info.number) added: \(info.direction) \(info.summary)")
            case .transferProgress(let path, let progress):
                let number = TransferInfo.number(of: path) ?? 0
                emit(
                    Line(event: "progress", object: path.rawValue, progress: progress),
                    text: "transfer \(number) \(progress.state): \(Units.formatSize(progress.bytesDone))/\(Units.formatSize(progress.bytesTotal)), "
                        + "\(progress.filesDone)/\(progress.filesTotal) files, \(Units.formatSize(progress.rate))/s")
            case .transferFinished(let path, let state, let error):
                let number = TransferInfo.number(of: path) ?? 0
                emit(
                    Line(event: "finished", object: path.rawValue, state: state, error: error.isEmpty ? nil : error),
                    text: "transfer \(number) \(state)" + (error.isEmpty ? "" : ": \(error)"))
            case .endpointAdded(let path):
                emit(Line(event: "endpoint-added", object: path.rawValue), text: "endpoint added: \(path.rawValue)")
            case .endpointRemoved(let path):
                emit(Line(event: "endpoint-removed", object: path.rawValue), text: "endpoint removed: \(path.rawValue)")
            case .daemonVanished:
                throw CommandFailure(message: "s2sd stopped")
            case .daemonAppeared:
                continue
            }
        }
        throw CommandFailure(message: "lost the connection to the bus")
    }

    private func emit(_ line: Line, text: String) {
        if output.json {
            Output.jsonLine(line)
        } else {
            Output.line(text)
        }
    }
}
