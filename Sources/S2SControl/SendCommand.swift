import ArgumentParser
import Dispatch
import FoundationEssentials
import Synchronization
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
            7730). With --punch, DEST is the plain ID and the transfer goes through both NATs by \
            a punched hole: s2sctl prints this side's ticket, the receiver runs "s2sctl endpoint \
            punch ID" and gives its ticket back (type it, or pass --ticket); one attempt, one \
            connection ("s2sctl endpoint punch --help" says more). Directories are sent with everything in them, empty files and \
            directories included. Symbolic links are skipped with a warning unless --follow-symlinks.

            The daemon reads the sources with your rights, never as root. The transfer is end-to-end \
            encrypted and each file's digest is checked by the receiver before the file appears \
            there. s2sctl shows progress on a terminal and exits 0 only once the receiver has \
            confirmed every file. Ctrl-C cancels the transfer.

            Every send enters the daemon's queue (see /usr/share/doc/s2s/docs/queue.md): at most MaxActiveSends= run at \
            once (MaxActiveSendsPerDestination= to one endpoint), higher --priority first. A send \
            that fails for a passing reason (network, receiver offline or busy) is retried with \
            growing delays, from 1 second up to 5 minutes, until --retry-for has passed since it was \
            queued (default: the daemon's RetryFor=, one day) or --max-attempts attempts; s2sctl \
            says why it waits and when it tries next. A refusal, an unknown endpoint or a source \
            that cannot be read fails at once. The queue survives a restart of the daemon, even a \
            crash: an interrupted transfer resumes from what the receiver already holds, without \
            running s2sctl again. "s2sctl pause" and "s2sctl resume" stop and restart a send.

            --rate limits this transfer (change it while it runs with "s2sctl set-rate"); the \
            daemon's MaxUploadRate= applies on top. With --remove-source each source file is \
            deleted as soon as the receiver has confirmed it whole, never before, and never a file \
            that changed while it was being sent: such files are kept and listed. Directories \
            are left in place, emptied of what was sent.

            Exit status: 0 once the receiver confirmed every file (with --no-wait, once the send is \
            queued); 1 the transfer failed or was cancelled with "s2sctl cancel"; 65 DEST is \
            malformed or mistyped; 66 a source does not exist or cannot be read; 69 s2sd is not \
            running; 75 s2sd stopped (or the bus went away) while s2sctl waited: the transfer stays \
            queued and the daemon carries on with it; 130 Ctrl-C cancelled the transfer.
            """)

    @ParentCommand var root: S2SCtl
    @OptionGroup var output: JSONOption

    @Argument(help: ArgumentHelp("Files and directories to send, then the destination: ID or ID@HOST:PORT.", valueName: "path... dest"))
    var arguments: [String] = []

    @Option(
        help: ArgumentHelp("The digest the receiver checks each file against: xxh3-128 (default) or sha256.", valueName: "name"),
        completion: Completions.checksums)
    var checksum: String?

    @Flag(help: "Send what symbolic links point to instead of skipping them.")
    var followSymlinks = false

    @Option(help: ArgumentHelp(
        "Limit this transfer to RATE bytes per second: 20M, 512K, 1.5G (binary units), or 0 for no limit.", valueName: "rate"))
    var rate: String?

    @Flag(help: "Move: delete each source file once the receiver has confirmed it (directories stay).")
    var removeSource = false

    // Unconditional: "--priority -5" takes -5 as the value, not as an option.
    @Option(parsing: .unconditional, help: ArgumentHelp("The queue's order, from -100 to 100 (default 0): higher starts first.", valueName: "n"))
    var priority: Int32?

    @Option(
        help: ArgumentHelp(
            "How long to retry after network errors, counted from now: e.g. 30s, 10min, 2h, 7d; 0: one attempt only.",
            valueName: "duration"))
    var retryFor: String?

    @Option(help: ArgumentHelp("The most attempts (0: no limit but --retry-for).", valueName: "n"))
    var maxAttempts: UInt32?

    @Option(help: ArgumentHelp(
        "TCP connections for this transfer, from 1 to 16 (through a relay at most 4), or auto (the daemon's Streams=, by default one on a LAN, 4 to 12 on a long round trip but no more than one per 8 MiB to send, more while socket buffers hold them back).",
        valueName: "n"))
    var streams: String?

    @Flag(help: "Print the transfer's object path and return at once; the daemon carries on.")
    var noWait = false

    @Flag(help: "Through a relay: move to a direct path through both NATs if the endpoint allows it (endpoint new --allow-direct); the receiver learns this host's addresses. Default: the daemon's AllowDirect=.")
    var allowDirect = false

    @Flag(help: "Go through both NATs by a punched hole, with tickets exchanged by hand (the receiver runs \"s2sctl endpoint punch ID\"); DEST is the plain ID.")
    var punch = false

    @Option(help: ArgumentHelp("With --punch: the receiver's ticket, instead of typing it.", valueName: "ticket"))
    var ticket: String?

    func validate() throws {
        guard arguments.count >= 2 else { throw ValidationError("give at least one path and a destination (ID or ID@HOST:PORT)") }
        if let checksum, !["xxh3-128", "sha256"].contains(checksum.lowercased()) {
            throw ValidationError("--checksum must be xxh3-128 or sha256")
        }
        if let priority, !(-100...100).contains(priority) {
            throw ValidationError("--priority must be from -100 to 100")
        }
        if let retryFor {
            do {
                let seconds = try Units.parseDuration(retryFor)
                guard seconds <= 366 * 86_400 else { throw ValidationError("--retry-for must be at most 366 days") }
            } catch let error as Units.ParseError {
                throw ValidationError("--retry-for: \(error.description)")
            }
        }
        if let rate { _ = try Self.parseRate(rate, option: "--rate") }
        if let streams { _ = try Self.parseStreams(streams) }
        if ticket != nil && !punch { throw ValidationError("--ticket goes with --punch") }
        if punch, let last = arguments.last, last.contains("@") {
            throw ValidationError("with --punch, give the plain ID: the tickets carry the addresses")
        }
    }

    /// `--streams`: 0 (auto: the daemon's setting) or a count from 1 to 16.
    static func parseStreams(_ text: String) throws -> UInt32 {
        if text.lowercased() == "auto" { return 0 }
        guard let count = UInt32(text), (1...16).contains(count) else {
            throw ValidationError("--streams must be auto or a number from 1 to 16")
        }
        return count
    }

    /// A rate as the command line gives it, or a usage error that says what was expected.
    static func parseRate(_ text: String, option: String) throws -> UInt64 {
        do {
            return try Units.parseRate(text)
        } catch {
            throw ValidationError("\(option): \(error.description)")
        }
    }

    /// The destination, read as the daemon reads it: a mistyped ID or address fails here, with
    /// the daemon's words, before any bus call.
    static func destination(_ text: String) throws -> PeerDestination {
        do {
            return try PeerDestination(parsing: text)
        } catch {
            throw CommandFailure(message: error.description, status: .dataError)
        }
    }

    func run() async throws {
        guard let text = arguments.last else { throw ValidationError("missing destination") }
        let destination = try Self.destination(text)
        let sources = arguments.dropLast().map(absolutePath)
        var options: [String: DBusValue] = [:]
        if let checksum { options[DaemonAPI.SendOption.checksum] = .string(checksum.lowercased()) }
        if followSymlinks { options[DaemonAPI.SendOption.followSymlinks] = .boolean(true) }
        if let priority { options[DaemonAPI.SendOption.priority] = .int32(priority) }
        if let retryFor, let seconds = try? Units.parseDuration(retryFor) {
            options[DaemonAPI.SendOption.retryFor] = .uint64(seconds * 1_000_000)
        }
        if let maxAttempts { options[DaemonAPI.SendOption.maxAttempts] = .uint32(maxAttempts) }
        if let rate { options[DaemonAPI.SendOption.rateLimit] = .uint64(try Self.parseRate(rate, option: "--rate")) }
        if removeSource { options[DaemonAPI.SendOption.removeSource] = .boolean(true) }
        if let streams { options[DaemonAPI.SendOption.streams] = .uint32(try Self.parseStreams(streams)) }
        if allowDirect { options[DaemonAPI.SendOption.allowDirect] = .boolean(true) }

        let client = try await root.busOptions.client()
        let events = noWait ? nil : try await client.subscribedEvents()
        let receipt: DaemonClient.SendReceipt
        if punch {
            let prepared = try await client.preparePunch(endpointID: nil)
            let exchange = TicketExchange(ownTicket: prepared.ticket, otherSide: "receiver", given: ticket)
            exchange.announce(warnings: prepared.warnings)
            receipt = try await exchange.withOtherTicket { ticket in
                var options = options
                options[DaemonAPI.SendOption.punchHandle] = .string(prepared.handle)
                options[DaemonAPI.SendOption.punchTicket] = .string(ticket)
                return try await client.send(sources: Array(sources), to: destination, options: options)
            }
        } else {
            receipt = try await client.send(sources: Array(sources), to: destination, options: options)
        }
        let path = receipt.transfer
        for warning in receipt.warnings { Output.error("s2sctl: warning: \(warning)") }
        guard let events else {
            Output.line(path.rawValue)
            return
        }
        let interrupt = InterruptHandler { Task { try? await client.cancel(path) } }
        defer { interrupt.stop() }
        let state = try await follow(path, events: events, client: client)
        if state == .cancelled && interrupt.fired {
            throw CommandFailure(message: "transfer cancelled", status: .interrupted)
        }
        let info = try await client.transfer(path)
        if output.json {
            try Output.json(info)
        } else if state == .done {
            let summary = "sent \(info.filesTotal) file\(info.filesTotal == 1 ? "" : "s"), \(Units.formatSize(info.bytesTotal))"
            let resumed = info.bytesResumed > 0 ? " (\(Units.formatSize(info.bytesResumed)) already there)" : ""
            Output.error(summary + resumed + (info.digest.map { ", \(info.digestAlgorithm) \($0)" } ?? ""))
        }
        if !output.json {
            for kept in info.keptSources { Output.error("s2sctl: kept \(kept)") }
        }
        guard state == .done else {
            throw CommandFailure(message: Self.ending(state, error: info.error))
        }
    }

    /// Draws progress until the transfer finishes; returns its final state.
    private func follow(_ path: ObjectPath, events: AsyncStream<DaemonEvent>, client: DaemonClient) async throws -> TransferState {
        var bar = ProgressBar.isAvailable && !output.json ? ProgressBar() : nil
        defer { bar?.finish() }
        // It may have finished before the subscription saw anything: look once.
        let initial = try await client.transfer(path)
        if initial.state.isFinished { return initial.state }
        var waiting = WaitingReport()
        // A send just queued usually starts at once: say nothing about the queue unless it waits
        // for a reason (a failed attempt, a pause).
        if initial.attempts > 0 || initial.state == .paused, let line = waiting.report(initial) {
            bar?.finish()
            Output.error(line)
        }
        for await event in events {
            switch event {
            case .transferProgress(let transfer, let progress) where transfer == path:
                if progress.state.isWaiting {
                    // Why it waits is in properties that the progress signal does not carry.
                    if let info = try? await client.transfer(path), let line = waiting.report(info) {
                        bar?.finish()
                        Output.error(line)
                    }
                    continue
                }
                bar?.draw(progress)
            case .transferFinished(let transfer, let state, _) where transfer == path:
                return state
            case .daemonVanished:
                throw CommandFailure(
                    message: "s2sd stopped during the transfer; it stays queued and carries on when s2sd starts again (s2sctl transfers)",
                    status: .temporaryFailure)
            default:
                continue
            }
        }
        throw CommandFailure(
            message: "lost the connection to the bus; the transfer carries on in s2sd (s2sctl transfers)", status: .temporaryFailure)
    }

    /// The last line of a send that did not succeed: its state, and the daemon's reason once
    /// (a reason that already names the state is not repeated after it).
    static func ending(_ state: TransferState, error: String?) -> String {
        guard let error, !error.isEmpty else { return "transfer \(state.rawValue)" }
        let lowered = error.lowercased()
        if lowered == state.rawValue || lowered.hasPrefix("transfer \(state.rawValue)") { return error }
        return "transfer \(state.rawValue): \(error)"
    }
}

/// The lines `s2sctl send` prints while its transfer waits in the queue: one each time the
/// state, the attempt or the error changes, never one per progress signal.
struct WaitingReport {
    private var last: (state: TransferState, attempts: UInt32, error: String?)?

    mutating func report(_ info: TransferSnapshot, now: Date = Date()) -> String? {
        guard info.state.isWaiting else { return nil }
        let current = (info.state, info.attempts, info.lastError)
        if let last, last == current { return nil }
        last = current
        let number = info.number ?? 0
        if info.state == .paused { return "s2sctl: transfer \(number) is paused (s2sctl resume \(number) continues it)" }
        guard let error = info.lastError, info.attempts > 0 else {
            return "s2sctl: transfer \(number) is queued, waiting for a free slot"
        }
        let when = info.nextAttempt.map { Timestamp.relative(microseconds: $0, now: now) } ?? "soon"
        return "s2sctl: attempt \(info.attempts) failed: \(error); retrying \(when); Ctrl-C cancels"
    }
}

/// Runs a handler on the first SIGINT instead of dying, so that Ctrl-C cancels cleanly; a
/// second Ctrl-C exits at once (130) without waiting for the daemon.
final class InterruptHandler {
    private let source: any DispatchSourceSignal
    private let presses = Presses()

    init(_ handler: @escaping @Sendable () -> Void) {
        signal(SIGINT, SIG_IGN)
        source = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        source.setEventHandler { [presses] in
            if presses.press() == 1 {
                handler()
            } else {
                Output.error("\ns2sctl: transfer cancelled")
                Glibc.exit(ExitStatus.interrupted.rawValue)
            }
        }
        source.resume()
    }

    /// Whether Ctrl-C was pressed.
    var fired: Bool { presses.count > 0 }

    func stop() {
        source.cancel()
        signal(SIGINT, SIG_DFL)
    }

    /// How many times Ctrl-C was pressed, from the signal queue and the command's task.
    private final class Presses: Sendable {
        private let presses = Mutex(0)

        /// Counts one press; returns the count.
        func press() -> Int {
            presses.withLock { count in
                count += 1
                return count
            }
        }

        var count: Int { presses.withLock { $0 } }
    }
}
