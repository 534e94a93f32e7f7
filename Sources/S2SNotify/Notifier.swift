import Foundation
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
    var daemon: BusConnection?
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
        daemon?.close()
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
                _ = try await daemon.call(
                    destination: DaemonAPI.busName, path: path, interface: DaemonAPI.transferInterface, member: "Cancel",
                    autoStart: false)
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
            let connection: BusConnection
            do {
                connection = try await BusConnection.connect(configuration.daemonBus, environment: configuration.environment)
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
            await follow(connection)
            connection.close()
            daemon = nil
            await enqueue(planner.daemonVanished())
            guard !Task.isCancelled else { break }
            logger.warning("lost the connection to the \(busDescription); reconnecting")
            reportedBusFailure = true
            try? await Task.sleep(for: backoff.next())
        }
    }

    /// Follows the daemon on one connection to its bus, until the connection closes.
    private func follow(_ connection: BusConnection) async {
        let signals = await connection.signals()
        do {
            try await connection.addMatch(DaemonEvent.ownerChangedMatchRule)
            daemon = connection
            if try await connection.nameHasOwner(DaemonAPI.busName) {
                await daemonAppeared(connection)
            } else {
                reportDaemonAbsent()
            }
        } catch {
            logger.warning("cannot watch s2sd on the \(busDescription): \(error)")
            return
        }
        for await signal in signals {
            guard let event = DaemonEvent(signal: signal) else { continue }
            await handle(event, on: connection)
        }
    }

    private func reportDaemonAbsent() {
        guard !reportedDaemonAbsent else { return }
        reportedDaemonAbsent = true
        logger.notice("s2sd is not running on the \(busDescription); waiting for it to start")
    }

    /// Subscribes, and picks up the transfers already running.
    private func daemonAppeared(_ connection: BusConnection) async {
        do {
            _ = try await callDaemon(connection, member: "Subscribe")
            let transfers = try PropertyReader.objects(in: try await callDaemon(connection, member: "ListTransfers"), of: "ListTransfers")
            reportedDaemonAbsent = false
            logger.notice("following s2sd on the \(busDescription)")
            for (path, properties) in transfers {
                await track(try TransferView(path: path, properties: properties), on: connection)
            }
        } catch let error as BusError where error.name == StandardErrorName.serviceUnknown || error.name == StandardErrorName.nameHasNoOwner {
            reportDaemonAbsent()
        } catch {
            logger.warning("cannot follow s2sd on the \(busDescription): \(error)")
        }
    }

    private func handle(_ event: DaemonEvent, on connection: BusConnection) async {
        let now = ContinuousClock.now
        switch event {
        case .transferAdded(let path, let properties):
            do {
                await track(try TransferView(path: path, properties: properties), on: connection)
            } catch {
                logger.warning("\(error)")
            }
        case .transferProgress(let path, let progress):
            if planner.isTracking(path) {
                await enqueue(planner.progress(path, progress, at: now))
            } else if let view = await transfer(path, on: connection) {
                // Subscribed after it started: pick it up now.
                await track(view, on: connection)
            }
        case .transferFinished(let path, let state, let error):
            if let final = await transfer(path, on: connection) {
                guard final.owner == configuration.uid else { return }
                await lookUpEndpoint(of: final, on: connection)
                await enqueue(planner.finished(final, at: ContinuousClock.now))
            } else {
                await enqueue(planner.finished(path, state: state, error: error, at: now))
            }
        case .endpointAdded:
            break
        case .endpointRemoved(let path):
            planner.setEndpointDirectory(nil, for: path)
        case .daemonVanished:
            daemon = nil
            await enqueue(planner.daemonVanished())
            logger.notice("s2sd left the \(busDescription); waiting for it to come back")
            reportedDaemonAbsent = true
        case .daemonAppeared:
            daemon = connection
            await daemonAppeared(connection)
        }
    }

    /// Starts following a transfer of this user.
    private func track(_ view: TransferView, on connection: BusConnection) async {
        guard view.owner == configuration.uid, !view.isFinished else { return }
        await lookUpEndpoint(of: view, on: connection)
        await enqueue(planner.added(view, at: ContinuousClock.now))
    }

    /// Reads a transfer's properties; nil if it is gone (or not this user's to read).
    private func transfer(_ path: ObjectPath, on connection: BusConnection) async -> TransferView? {
        do {
            let reply = try await connection.call(
                destination: DaemonAPI.busName, path: path, interface: "org.freedesktop.DBus.Properties", member: "GetAll",
                [.string(DaemonAPI.transferInterface)], autoStart: false)
            guard let properties = reply.first?.stringKeyedValue else { return nil }
            return try TransferView(path: path, properties: properties.mapValues(\.unwrappingVariant))
        } catch {
            logger.debug("cannot read \(path): \(error)")
            return nil
        }
    }

    /// Learns the directory of a receiving transfer's endpoint, once per endpoint.
    private func lookUpEndpoint(of view: TransferView, on connection: BusConnection) async {
        guard let endpoint = view.endpoint, !planner.knowsEndpoint(endpoint) else { return }
        do {
            let reply = try await connection.call(
                destination: DaemonAPI.busName, path: endpoint, interface: "org.freedesktop.DBus.Properties", member: "Get",
                [.string(DaemonAPI.endpointInterface), .string("Directory")], autoStart: false)
            planner.setEndpointDirectory(reply.first?.unwrappingVariant.stringValue, for: endpoint)
        } catch {
            logger.debug("cannot read the directory of \(endpoint): \(error)")
        }
    }

    private func callDaemon(_ connection: BusConnection, member: String) async throws -> [DBusValue] {
        try await connection.call(
            destination: DaemonAPI.busName, path: ObjectPath(DaemonAPI.rootPath) ?? "/", interface: DaemonAPI.managerInterface,
            member: member, autoStart: false)
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
