import UnixSignals
public import Logging
import S2SBus
import S2SCore
public import S2SEngine
import S2SPeer
import S2SProtocol
import S2SSystemd
import ServiceLifecycle
#if canImport(Glibc)
import Glibc
#endif

/// Start-up and the life of the daemon: state, sockets from the service manager, the bus, and the
/// services that run until SIGTERM/SIGINT, idleness, or a fatal error.
public enum Daemon {
    /// A problem that stops the daemon from starting, with a message for the operator.
    public struct StartupError: Error, CustomStringConvertible {
        public let description: String
    }

    public static func run(configuration fileConfiguration: Configuration, environment: [String: String], logger: Logger) async throws {
        // Files the daemon creates (the database) are for its eyes only.
        umask(0o077)
        ProcessTuning.apply(logger: logger)
        do {
            try await SocketPhase.count()
        } catch {
            logger.warning("the socket phase of CPUTimeByPhase will stay at 0", metadata: ["error": "\(error)"])
        }
        try prepareStateDirectory(fileConfiguration.stateDirectory)
        // Limits an administrator changed over the bus (SetLimits) win over the file.
        var configuration = fileConfiguration
        do {
            try configuration.loadRuntimeLimits()
        } catch {
            throw StartupError(description: "\(error)")
        }
        applyCongestionControl(configuration.congestionControl, logger: logger)
        let passedSockets = try ServiceManager.takePassedSockets()
        for socket in passedSockets where !socket.isListeningStream {
            logger.warning("ignoring a passed socket that is not a listening stream socket", metadata: ["name": "\(socket.name)"])
        }
        let activated = !passedSockets.isEmpty || environment["DBUS_STARTER_BUS_TYPE"] != nil
        let (servers, listenerNames) = try await bindPeerListeners(
            passed: passedSockets.filter(\.isListeningStream).map(\.fd), addresses: configuration.listen,
            limits: configuration.peerLimits)
        // The state before the bus: a daemon that cannot read its state must not take the name.
        let engine: Engine
        do {
            engine = try Engine(configuration: configuration, listeners: servers, logger: logger)
        } catch {
            throw StartupError(description: error.message)
        }

        let bus: BusAddress = configuration.bus == .system ? .system : .session
        let connection: BusConnection
        do {
            connection = try await BusConnection.connect(bus, environment: environment)
        } catch {
            throw StartupError(description: "\(error)")
        }
        // polkit answers for the system bus only; on a session bus every caller is its own user.
        let authority = Authority(polkit: configuration.bus == .system ? PolkitClient(connection: connection, logger: logger) : nil)
        let manager = Manager(engine: engine, authority: authority, subscribers: Subscribers(), peerListeners: listenerNames)
        let server = ObjectServer(connection: connection, tree: manager)
        let signals = SignalBroadcaster(connection: connection, subscribers: manager.subscribers, logger: logger)
        logger.info(
            "starting",
            metadata: [
                "version": "\(S2SVersion.current)", "bus": "\(bus)", "state_directory": "\(configuration.stateDirectory)",
                "peer_listeners": "\(listenerNames)", "relays": "\(configuration.relays.map(\.description))", "activated": "\(activated)",
                "private_directories": "\(SandboxView.current().privateDirectories)",
            ])

        let group = ServiceGroup(
            configuration: ServiceGroupConfiguration(
                services: [
                    .init(service: BusService(server: server, manager: manager, logger: logger)),
                    .init(
                        service: EngineEventService(
                            engine: engine, publisher: EventPublisher(manager: manager, signals: signals), logger: logger)),
                ] + engine.services.map { .init(service: $0) } + [
                    .init(service: WatchdogService(logger: logger)),
                    .init(
                        service: IdleExitService(
                            timeout: configuration.idleTimeout, activated: activated, server: server, subscribers: manager.subscribers,
                            isBusy: { await engine.isBusy }, logger: logger),
                        successTerminationBehavior: .gracefullyShutdownGroup),
                ],
                gracefulShutdownSignals: [.sigterm, .sigint],
                logger: logger))
        try await group.run()
        logger.info("stopped")
    }

    /// Makes every peer connection ask for `algorithm` (nil: the system default), once the kernel
    /// said it may: otherwise one clear line, and the system default.
    static func applyCongestionControl(_ algorithm: String?, logger: Logger) {
        guard let algorithm else {
            PeerTransport.congestionControl = nil
            logger.info("peer connections use the system's TCP congestion control (CongestionControl=system)")
            return
        }
        if let reason = PeerTransport.unavailability(of: algorithm) {
            PeerTransport.congestionControl = nil
            logger.warning(
                """
                TCP congestion control \(algorithm) is not available (\(reason)); peer connections use the system default, \
                which is slow on long, lossy paths. See docs/systemd.md, "BBR" (modules-load.d and sysctl.d)
                """)
            return
        }
        PeerTransport.congestionControl = algorithm
        logger.debug("peer connections use TCP congestion control \(algorithm)")
    }

    /// Peer servers on the sockets systemd passed and on the `Listen=` addresses, with the addresses
    /// they are bound to (for the `PeerListeners` property).
    static func bindPeerListeners(passed: [Int32], addresses: [String], limits: ProtocolLimits) async throws -> ([PeerServer], [String]) {
        var servers: [PeerServer] = []
        var names: [String] = []
        for fd in passed {
            do {
                servers.append(try await PeerServer.adopt(socket: fd, limits: limits))
            } catch {
                throw StartupError(description: "cannot use the socket passed by systemd: \(error)")
            }
            names.append(PeerListener.localAddress(of: fd) ?? "fd \(fd)")
        }
        for address in addresses {
            let server: PeerServer
            do {
                server = try await PeerServer.bind(listen: address, limits: limits)
            } catch {
                throw StartupError(description: "cannot listen on \(address): \(error)")
            }
            servers.append(server)
            names.append(server.localAddress.map(PeerListener.describe) ?? address)
        }
        return (servers, names)
    }

    /// Creates the state directory (0700) or checks that an existing one is a real directory of
    /// ours, and tightens its mode: it holds the endpoints' private keys.
    static func prepareStateDirectory(_ path: String) throws {
        var prefix = ""
        for component in path.split(separator: "/") {
            prefix += "/" + component
            if mkdir(prefix, 0o700) != 0 && errno != EEXIST {
                throw StartupError(description: "cannot create \(prefix): \(String(cString: strerror(errno)))")
            }
        }
        var status = stat()
        guard lstat(path, &status) == 0 else {
            throw StartupError(description: "cannot examine \(path): \(String(cString: strerror(errno)))")
        }
        guard status.st_mode & S_IFMT == S_IFDIR else {
            throw StartupError(description: "the state directory \(path) is not a directory")
        }
        guard status.st_uid == geteuid() else {
            throw StartupError(description: "the state directory \(path) belongs to user \(status.st_uid), not to the daemon's user \(geteuid())")
        }
        if status.st_mode & 0o077 != 0, chmod(path, 0o700) != 0 {
            throw StartupError(description: "cannot make \(path) private: \(String(cString: strerror(errno)))")
        }
    }
}
