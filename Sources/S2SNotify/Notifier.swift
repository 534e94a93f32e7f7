import FoundationEssentials
public import Logging
public import S2SBus
import S2SClient
import S2SCore

/// The agent: watches the daemon on its bus and shows notifications on the session bus.
///
/// Three loops run as child tasks of ``run()``: the session (the notification server's coming
/// and going, buttons, closed notifications), the daemon (connect with backoff, subscribe while
/// the daemon is on the bus, follow its signals) and a clock for throttled updates. The
/// ``NotificationPlanner`` decides; this actor carries its commands out one after another, in
/// order, mapping the planner's keys to the server's notification IDs.
public actor Notifier {
    public struct Configuration: Sendable {
        /// Where the daemon is: the system bus, or the session bus (`--user`).
        public var daemonBus: BusAddress
        public var environment: [String: String]
        public var planner: NotificationPlanner.Settings
        /// Only this user's transfers are shown (a root agent would otherwise see everyone's).
        public var uid: UInt32
        public var tickInterval: Duration

        public init(
            daemonBus: BusAddress, environment: [String: String], planner: NotificationPlanner.Settings, uid: UInt32,
            tickInterval: Duration = .milliseconds(250)
        ) {
            self.daemonBus = daemonBus
            self.environment = environment
            self.planner = planner
            self.uid = uid
            self.tickInterval = tickInterval
        }
    }

    let configuration: Configuration
    let logger: Logger
    let session: BusConnection
    let server: NotificationServer
    let opener: FolderOpener
    var planner: NotificationPlanner

    // The session side.
    /// The unique name of the notification server; nil while there is none.
    var serverOwner: String?
    var ids: [NotificationKey: UInt32] = [:]
    /// What each recent notification shows, for its buttons (bounded: see `remember`).
    var contents: [UInt32: NotificationContent] = [:]
    var contentOrder: [UInt32] = []
    var reportedServerAbsent = false

    // The daemon side.
    var daemon: DaemonClient?
    var reportedDaemonAbsent = false
    var reportedBusFailure = false

    // Carrying out commands in order.
    var pending: [PlannerCommand] = []
    var draining = false
    var drainWaiters: [CheckedContinuation<Void, Never>] = []

    static let rememberedContents = 256

    public init(configuration: Configuration, session: BusConnection, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        self.session = session
        self.server = NotificationServer(connection: session)
        self.opener = FolderOpener(session: session, logger: logger)
        self.planner = NotificationPlanner(settings: configuration.planner)
    }

    /// Runs until the session bus goes away or the calling task is cancelled.
    public func run() async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.runSession() }
            group.addTask { await self.runDaemon() }
            group.addTask { await self.runClock() }
            // The session loop ends first (the others loop until cancelled): the session is over.
            await group.next()
            group.cancelAll()
        }
    }

    /// Before exiting: running transfers' notifications go (their buttons would no longer work).
    public func shutDown() async {
        await enqueue(planner.shutDown())
        await flush()
        daemon?.connection.close()
    }

    // MARK: The session bus

    private func runSession() async {
        let signals = await session.signals()
        do {
            for rule in NotificationServer.matchRules { try await session.addMatch(rule) }
        } catch {
            logger.error("cannot watch the notification server on the session bus: \(error)")
            return
        }
        await probeServer()
        for await signal in signals {
            guard let event = ServerEvent(signal: signal) else { continue }
            await handle(event, sender: signal.sender)
        }
        if !Task.isCancelled { logger.notice("the session bus closed") }
    }

    /// Looks for a notification server (starting one if the bus can activate it).
    private func probeServer() async {
        do {
            let capabilities = try await server.capabilities()
            let owner = try await session.nameOwner(NotificationServer.busName)
            let information = (try? await server.information()) ?? "an unnamed server"
            serverOwner = owner
            forgetAllNotifications()
            planner.serverChanged(capabilities)
            reportedServerAbsent = false
            logger.notice(
                "notification server: \(information); actions: \(capabilities.actions ? "yes" : "no"), body markup: \(capabilities.bodyMarkup ? "yes" : "no")")
        } catch {
            serverOwner = nil
            if !reportedServerAbsent {
                reportedServerAbsent = true
                logger.warning(
                    "no notification server on the session bus (\(error)); notifications start when one appears")
            }
        }
    }

    private func handle(_ event: ServerEvent, sender: String?) async {
        switch event {
        case .ownerChanged(let newOwner):
            if newOwner.isEmpty {
                guard serverOwner != nil else { return }
                serverOwner = nil
                forgetAllNotifications()
                reportedServerAbsent = true
                logger.warning("the notification server left the session bus; notifications start when one appears")
            } else {
                await probeServer()
            }
        case .actionInvoked(let id, let key):
            guard sender == serverOwner, let action = contents[id]?.action(forKey: key) else { return }
            await perform(action)
        case .closed(let id, let reason):
            guard sender == serverOwner else { return }
            contents[id] = nil
            guard let key = ids.first(where: { $0.value == id })?.key else { return }
            ids[key] = nil
            logger.debug("notification \(id) closed (reason \(reason))")
            planner.closed(key)
        }
    }

    private func perform(_ action: NotificationContent.Action) async {
        switch action {
        case .cancel(let path):
            guard let daemon else {
                logger.warning("cannot cancel \(path): s2sd is not reachable")
                return
            }
            do {
                try await daemon.cancel(path)
                logger.info("cancelled \(path) from its notification")
            } catch {
                logger.warning("cannot cancel \(path): \(error)")
            }
        case .openFolder(let directory, let items):
            await opener.open(directory, selecting: items)
        }
    }

    private func forgetAllNotifications() {
        ids = [:]
        contents = [:]
        contentOrder = []
    }

    // MARK: Carrying out the planner's commands

    /// Carries `commands` out after those already waiting, in order.
    private func enqueue(_ commands: [PlannerCommand]) async {
        pending.append(contentsOf: commands)
        guard !draining else { return }
        draining = true
        while !pending.isEmpty {
            await execute(pending.removeFirst())
        }
        draining = false
        let waiters = drainWaiters
        drainWaiters = []
        for waiter in waiters { waiter.resume() }
    }

    /// Returns once every command enqueued so far was carried out.
    private func flush() async {
        guard draining else { return }
        await withCheckedContinuation { drainWaiters.append($0) }
    }

    private func execute(_ command: PlannerCommand) async {
        switch command {
        case .show(let key, let content, let takeOver):
            var replacing = ids[key] ?? 0
            if replacing == 0, let takeOver, let id = ids.removeValue(forKey: takeOver) { replacing = id }
            guard serverOwner != nil else { return }
            do {
                let id = try await server.notify(content, replacing: replacing)
                ids[key] = id
                remember(id, content)
                logger.debug("notification \(id)\(replacing == 0 ? "" : " (in place)"): \(content.summary) | \(content.body)")
            } catch {
                logger.warning("cannot show a notification: \(error)")
            }
        case .close(let key):
            guard let id = ids.removeValue(forKey: key) else { return }
            contents[id] = nil
            guard serverOwner != nil else { return }
            do {
                try await server.close(id)
            } catch {
                logger.debug("cannot close notification \(id): \(error)")
            }
        case .forget(let key):
            ids[key] = nil
        }
    }

    /// Keeps what a notification shows for its buttons, for the most recent ones only.
    private func remember(_ id: UInt32, _ content: NotificationContent) {
        if contents.updateValue(content, forKey: id) == nil { contentOrder.append(id) }
        while contentOrder.count > Self.rememberedContents {
            contents[contentOrder.removeFirst()] = nil
        }
    }

    // MARK: The daemon

    private var busDescription: String { configuration.daemonBus.description }

    private func runDaemon() async {
        var backoff = Backoff()
        while !Task.isCancelled {
            let client: DaemonClient
            do {
                // autoStart false: the agent follows a daemon, it never starts one.
                client = try await DaemonClient.connect(configuration.daemonBus, environment: configuration.environment, autoStart: false)
            } catch {
                if !reportedBusFailure {
                    reportedBusFailure = true
                    logger.warning("cannot connect to the \(busDescription): \(error); retrying")
                }
                try? await Task.sleep(for: backoff.next())
                continue
            }
            if reportedBusFailure {
                reportedBusFailure = false
                logger.notice("connected to the \(busDescription)")
            }
            backoff.reset()
            await follow(client)
            client.connection.close()
            daemon = nil
            await enqueue(planner.daemonVanished())
            guard !Task.isCancelled else { break }
            logger.warning("lost the connection to the \(busDescription); reconnecting")
            reportedBusFailure = true
            try? await Task.sleep(for: backoff.next())
        }
    }

    /// Follows the daemon on one connection to its bus, until the connection closes.
    private func follow(_ client: DaemonClient) async {
        let events: AsyncStream<DaemonEvent>
        do {
            events = try await client.events()
            daemon = client
            if try await client.daemonIsRunning() {
                await daemonAppeared(client)
            } else {
                reportDaemonAbsent()
            }
        } catch {
            logger.warning("cannot watch s2sd on the \(busDescription): \(error)")
            return
        }
        for await event in events {
            await handle(event, on: client)
        }
    }

    private func reportDaemonAbsent() {
        guard !reportedDaemonAbsent else { return }
        reportedDaemonAbsent = true
        logger.notice("s2sd is not running on the \(busDescription); waiting for it to start")
    }

    /// Subscribes, learns where the endpoints are (then kept up to date from the signals), and
    /// picks up the transfers already running.
    private func daemonAppeared(_ client: DaemonClient) async {
        do {
            try await client.subscribe()
            let transfers = try await client.transfers()
            reportedDaemonAbsent = false
            logger.notice("following s2sd on the \(busDescription)")
            for (path, properties) in try await client.endpoints() { learnEndpoint(path, properties) }
            for transfer in transfers { await track(transfer) }
        } catch let error as DaemonCallError where error.daemonIsAbsent {
            reportDaemonAbsent()
        } catch {
            logger.warning("cannot follow s2sd on the \(busDescription): \(error)")
        }
    }

    private func handle(_ event: DaemonEvent, on client: DaemonClient) async {
        let now = ContinuousClock.now
        switch event {
        case .transferAdded(let path, let properties):
            do {
                await track(try TransferSnapshot(path: path, properties: properties))
            } catch {
                logger.warning("\(error)")
            }
        case .transferProgress(let path, let progress):
            if planner.isTracking(path) {
                await enqueue(planner.progress(path, progress, at: now))
            } else if let transfer = await transfer(path, on: client) {
                // Subscribed after it started: pick it up now, from one call (the signal does not
                // say whose it is, nor what it carries).
                await track(transfer)
            }
        case .transferFinished(let path, let state, let error):
            if let final = await transfer(path, on: client) {
                guard final.owner == configuration.uid else { return }
                await enqueue(planner.finished(final, at: ContinuousClock.now))
            } else {
                await enqueue(planner.finished(path, state: state, error: error, at: now))
            }
        case .endpointAdded(let path, let properties):
            learnEndpoint(path, properties)
        case .endpointRemoved(let path):
            planner.setEndpointDirectory(nil, for: path)
        case .daemonVanished:
            daemon = nil
            await enqueue(planner.daemonVanished())
            logger.notice("s2sd left the \(busDescription); waiting for it to come back")
            reportedDaemonAbsent = true
        case .daemonAppeared:
            daemon = client
            await daemonAppeared(client)
        }
    }

    /// Starts following a transfer of this user.
    private func track(_ transfer: TransferSnapshot) async {
        guard transfer.owner == configuration.uid, !transfer.state.isFinished else { return }
        await enqueue(planner.added(transfer, at: ContinuousClock.now))
    }

    /// Reads a transfer's properties; nil if it is gone (or not this user's to read).
    private func transfer(_ path: ObjectPath, on client: DaemonClient) async -> TransferSnapshot? {
        do {
            return try await client.transfer(path)
        } catch {
            logger.debug("cannot read \(path): \(error)")
            return nil
        }
    }

    /// Notes where an endpoint's files go, from its properties (`ListEndpoints`, and the
    /// `InterfacesAdded` signal of a new endpoint), so that no transfer needs a call for it.
    private func learnEndpoint(_ path: ObjectPath, _ properties: [String: DBusValue]) {
        planner.setEndpointDirectory(properties[EndpointProperty.directory.rawValue]?.stringValue, for: path)
    }

    // MARK: The clock

    private func runClock() async {
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: configuration.tickInterval)
            } catch {
                return
            }
            await enqueue(planner.tick(at: ContinuousClock.now))
        }
    }
}
