import Logging
import S2SEngine
import S2SSystemd
import ServiceLifecycle

/// Reads the engine's one stream of events for the daemon's two audiences: the bus (signals, by
/// `EventPublisher`) and the service manager (the `STATUS=` line `systemctl status` shows, kept
/// current as endpoints and transfers come and go, as systemd's own daemons do).
struct EngineEventService: Service {
    let engine: Engine
    let publisher: EventPublisher
    let logger: Logger

    func run() async throws {
        let status = StatusLine(engine: engine, logger: logger)
        await cancelWhenGracefulShutdown {
            for await event in engine.events {
                await publisher.publish(event)
                if event.changesWhatIsUnderWay { await status.update() }
            }
        }
    }
}

extension EngineEvent {
    /// Whether the event changes the counts the status line shows (progress does not).
    var changesWhatIsUnderWay: Bool {
        switch self {
        case .endpointAdded, .endpointRemoved, .transferAdded, .transferFinished, .transferRemoved: true
        case .transferChanged(_, let now, let before): now.state != before?.state
        case .endpointCountersChanged: false
        }
    }
}

/// The daemon's `STATUS=` line: "Serving 3 endpoints; receiving 1, sending 2, 5 queued".
actor StatusLine {
    private let engine: Engine
    private let logger: Logger
    private var last = ""

    init(engine: Engine, logger: Logger) {
        self.engine = engine
        self.logger = logger
    }

    /// Sends the line to the service manager if it changed.
    func update() async {
        let line = Self.text(await engine.summary)
        guard line != last else { return }
        last = line
        do {
            try ServiceManager.status(line)
        } catch {
            logger.debug("cannot tell the service manager the status", metadata: ["error": "\(error)"])
        }
    }

    static func text(_ summary: Engine.Summary) -> String {
        var line = "Serving \(summary.endpoints) endpoint\(summary.endpoints == 1 ? "" : "s")"
        var under: [String] = []
        if summary.receiving > 0 { under.append("receiving \(summary.receiving)") }
        if summary.sending > 0 { under.append("sending \(summary.sending)") }
        if summary.queued > 0 { under.append("\(summary.queued) queued") }
        if !under.isEmpty { line += "; " + under.joined(separator: ", ") }
        return line
    }
}
