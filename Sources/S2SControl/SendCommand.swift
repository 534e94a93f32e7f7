import ArgumentParser
import Dispatch
import S2SBus
import S2SClient
import S2SCore
#if canImport(Glibc)
import Glibc
#endif

/// `s2sctl send PATH... DEST`.
struct SendCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "send",
        abstract: "Send files and directories to an endpoint.",
        discussion: """
            DEST is the endpoint's ID alone, which goes through the transit relay the daemon is \
            configured with (Relay=; neither side learns the other's address), or ID@HOST:PORT, \
            straight to the address of the daemon that holds it (the receiver prints it with \
            "s2sctl endpoint new" when its daemon has an external address; the port defaults to \
            7730). Directories are sent with everything in them, empty files and \
            directories included. Symbolic links are skipped with a warning unless --follow-symlinks.

            The daemon reads the sources with your rights, never as root. The transfer is end-to-end \
            encrypted and each file's digest is checked by the receiver before the file appears \
            there. s2sctl shows progress on a terminal and exits 0 only once the receiver has \
            confirmed every file. Ctrl-C cancels the transfer.

            If the transfer is interrupted (network, either daemon stopped), running the same \
            command again resumes it from what the receiver already holds.

            --rate limits this transfer (change it while it runs with "s2sctl set-rate"); the \
            daemon's MaxUploadRate= applies on top. With --remove-source each source file is \
            deleted as soon as the receiver has confirmed it whole, never before, and never a file \
            that changed while it was being sent: such files are kept and listed. Directories \
            are left in place, emptied of what was sent.
            """)

    @ParentCommand var root: S2SCtl
    @OptionGroup var output: JSONOption

    @Argument(help: ArgumentHelp("Files and directories to send, then the destination: ID or ID@HOST:PORT.", valueName: "path... dest"))
    var arguments: [String] = []

    @Option(help: ArgumentHelp("The digest the receiver checks each file against: xxh3-128 (default) or sha256.", valueName: "name"))
    var checksum: String?

    @Flag(help: "Send what symbolic links point to instead of skipping them.")
    var followSymlinks = false

    @Option(help: ArgumentHelp(
        "Limit this transfer to RATE bytes per second: 20M, 512K, 1.5G (binary units), or 0 for no limit.", valueName: "rate"))
    var rate: String?

    @Flag(help: "Move: delete each source file once the receiver has confirmed it (directories stay).")
    var removeSource = false

    @Flag(help: "Print the transfer's object path and return at once; the daemon carries on.")
    var noWait = false

    func validate() throws {
        guard arguments.count >= 2 else { throw ValidationError("give at least one path and a destination (ID or ID@HOST:PORT)") }
        if let checksum, !["xxh3-128", "sha256"].contains(checksum.lowercased()) {
            throw ValidationError("--checksum must be xxh3-128 or sha256")
        }
        if let rate { _ = try Self.parseRate(rate, option: "--rate") }
    }

    /// A rate as the command line gives it, or a usage error that says what was expected.
    static func parseRate(_ text: String, option: String) throws -> UInt64 {
        do {
            return try Units.parseRate(text)
        } catch {
            throw ValidationError("\(option): \(error.description)")
        }
    }

    func run() async throws {
        guard let destination = arguments.last else { throw ValidationError("missing destination") }
        let sources = arguments.dropLast().map(absolutePath)
        var options: [String: DBusValue] = [:]
        if let checksum { options[DaemonAPI.SendOption.checksum] = .string(checksum.lowercased()) }
        if followSymlinks { options[DaemonAPI.SendOption.followSymlinks] = .boolean(true) }
        if let rate { options[DaemonAPI.SendOption.rateLimit] = .uint64(try Self.parseRate(rate, option: "--rate")) }
        if removeSource { options[DaemonAPI.SendOption.removeSource] = .boolean(true) }

        let client = try await root.busOptions.client()
        let events = noWait ? nil : try await client.events()
        let reply = try await client.manager("Send", [.strings(Array(sources)), .string(destination), .vardict(options)])
        guard reply.count == 2, let path = reply[0].objectPathValue, let warnings = reply[1].arrayValue?.compactMap(\.stringValue) else {
            throw CommandFailure(message: "the daemon sent a malformed reply")
        }
        for warning in warnings { Output.error("s2sctl: warning: \(warning)") }
        guard let events else {
            Output.line(path.rawValue)
            return
        }
        let interrupt = InterruptHandler { Task { _ = try? await client.call(path: path, interface: DaemonAPI.transferInterface, member: "Cancel") } }
        defer { interrupt.stop() }
        let state = try await follow(path, events: events, client: client)
        let info = try TransferInfo(object: path, properties: try await client.properties(of: path, interface: DaemonAPI.transferInterface))
        if output.json {
            try Output.json(info)
        } else if state == "done" {
            let summary = "sent \(info.filesTotal) file\(info.filesTotal == 1 ? "" : "s"), \(Units.formatSize(info.bytesTotal))"
            let resumed = info.bytesResumed > 0 ? " (\(Units.formatSize(info.bytesResumed)) already there)" : ""
            Output.error(summary + resumed + (info.digest.map { ", \(info.digestAlgorithm) \($0)" } ?? ""))
        }
        if !output.json {
            for kept in info.keptSources { Output.error("s2sctl: kept \(kept)") }
        }
        guard state == "done" else {
            throw CommandFailure(message: "transfer \(state): \(info.error ?? "no reason given")")
        }
    }

    /// Draws progress until the transfer finishes; returns its final state.
    private func follow(_ path: ObjectPath, events: AsyncStream<DaemonEvent>, client: DaemonClient) async throws -> String {
        var bar = ProgressBar.isAvailable && !output.json ? ProgressBar() : nil
        defer { bar?.finish() }
        // It may have finished before the subscription saw anything: look once.
        let initial = try TransferInfo(object: path, properties: try await client.properties(of: path, interface: DaemonAPI.transferInterface))
        if initial.isFinished { return initial.state }
        for await event in events {
            switch event {
            case .transferProgress(let transfer, let progress) where transfer == path:
                bar?.draw(progress)
            case .transferFinished(let transfer, let state, _) where transfer == path:
                return state
            case .daemonVanished:
                throw CommandFailure(message: "s2sd stopped during the transfer; run the same command again to resume")
            default:
                continue
            }
        }
        throw CommandFailure(message: "lost the connection to the bus during the transfer")
    }
}

/// Runs a handler on SIGINT (once) instead of dying, so that Ctrl-C can cancel cleanly.
final class InterruptHandler {
    private let source: any DispatchSourceSignal

    init(_ handler: @escaping @Sendable () -> Void) {
        signal(SIGINT, SIG_IGN)
        source = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        source.setEventHandler {
            Output.error("\ns2sctl: cancelling the transfer")
            handler()
        }
        source.resume()
    }

    func stop() {
        source.cancel()
        signal(SIGINT, SIG_DFL)
    }
}
