package import Logging
package import S2SCore
package import S2SPeer
package import ServiceLifecycle
import S2SProtocol
package import S2SNat
import NIOCore
import Synchronization

/// What s2s does, without a front-end: endpoints, sending, receiving, the queue, relays, limits
/// and state. A front-end (the daemon's D-Bus adapter today) decides who the requester is and
/// what it may see (a ``Scope``), calls these typed methods, and turns ``events`` into whatever
/// its clients read. Nothing here knows of D-Bus or of the service manager.
///
/// Requests name their requester's UID for the journal and for acting as that user; whether the
/// requester may act on an object at all is the front-end's decision, made before it calls.
package final class Engine: Sendable {
    package let configuration: Configuration
    /// The events of every part, in order; read by one front-end.
    package let events: AsyncStream<EngineEvent>
    /// The services that run the engine (receiving, relays, the queue, progress, housekeeping,
    /// expiry); the daemon runs them in its service group beside its own.
    package let services: [any Service]
    /// Daemon-wide limits, changeable while running (``setLimits(_:requester:)``).
    package let limits: LiveLimits

    private let endpoints: EndpointRegistry
    private let transfers: TransferRegistry
    private let queue: SendQueue
    private let tokens: SendTokenStore
    private let relayBoard: RelayStatusBoard
    private let sandbox: SandboxView
    private let sink: EngineEventSink
    private let peers: PeerService
    private let relayService: RelayService
    private let nat: NatDiscovery
    private let punches = PunchBoard()
    private let transferService: TransferService
    private let logger: Logger

    /// Opens the state database in the configuration's state directory and restores endpoints
    /// and the queue from it. `listeners`: the peer servers the daemon bound (from the service
    /// manager's sockets and `Listen=`); received connections on them run here.
    package init(configuration: Configuration, listeners: [PeerServer], logger: Logger) throws(EngineError) {
        self.configuration = configuration
        self.logger = logger
        let limits = LiveLimits(Limits(configuration))
        self.limits = limits
        sandbox = SandboxView.current()
        let store: EndpointStore
        do {
            store = try StateDatabase.open(directory: configuration.stateDirectory, newState: configuration.newState, logger: logger)
        } catch {
            throw .failed(error.description)
        }
        do {
            endpoints = try EndpointRegistry(store: store, maxEndpointsPerUser: configuration.maxEndpointsPerUser)
        } catch {
            throw .failed("cannot read the endpoints from the state database: \(error)")
        }
        for (endpoint, reason) in endpoints.unreadable {
            logger.error(
                "endpoint disabled: its row in the state database cannot be read; the other endpoints serve",
                metadata: ["endpoint": "\(endpoint)", "error": "\(reason)"])
        }
        let (events, sink) = EngineEventSink.makeStream()
        self.events = events
        self.sink = sink
        let transferStore = TransferStore(database: store.database)
        transfers = TransferRegistry(events: sink, store: transferStore, bandwidth: limits.bandwidth, logger: logger)
        let transferService = TransferService(transfers: transfers)
        self.transferService = transferService
        tokens = SendTokenStore(database: store.database)
        queue = SendQueue(
            registry: transfers, store: transferStore, tokens: tokens, service: transferService, limits: limits,
            configuration: configuration, ciphers: CipherMemory(database: store.database, logger: logger), logger: logger)
        let resumeStore = ResumeStore(database: store.database)
        relayBoard = RelayStatusBoard()
        peers = PeerService(
            servers: listeners,
            context: ReceiveContext(
                endpoints: endpoints, transfers: transfers, resume: resumeStore, configuration: configuration, limits: limits,
                stripes: StripeBoard(), logger: logger))
        relayService = RelayService(relays: configuration.relays, context: peers.context, board: relayBoard)
        nat = NatDiscovery(servers: configuration.stunServers)
        services = [
            peers, relayService, transferService, SendQueueService(queue: queue),
            HousekeepingService(
                registry: endpoints, transfers: transfers, resume: resumeStore, configuration: configuration, logger: logger),
            ExpiryService(registry: endpoints, events: sink, logger: logger),
            StateBackupService(store: store, registry: endpoints, directory: configuration.stateDirectory, logger: logger),
        ]
    }

    /// Whether anything is under way: a transfer not finished, a peer connection open, an endpoint
    /// waiting at a relay. An idle daemon may exit only when nothing is.
    package var isBusy: Bool {
        get async { await transfers.activeCount > 0 || peers.hasConnections || relayService.isBusy }
    }

    // MARK: The network

    /// What the STUN servers (`StunServer=`) say about this host's NAT, looked at now or at most
    /// ``NatDiscovery/maxAge`` ago (every caller shares one look, so no caller can make the daemon
    /// flood the servers).
    package func natReport(requester: UInt32) async -> NatReport {
        let report = await nat.report()
        logger.debug("NAT looked at", metadata: ["requester": "\(requester)", "nat": "\(report.verdict.rawValue)"])
        return report
    }

    /// Prepares one side of a punched route: a TCP and a UDP port, the public address a NAT maps
    /// each to (STUN from that port), and the ticket that names them, for the other side. For
    /// the receiving side `endpoint` is the endpoint it receives into. Refused at once behind a
    /// NAT that is symmetric for both, where no punch can work.
    package func preparePunch(owner: UInt32, endpoint: Endpoint?) async throws(EngineError) -> (handle: String, ticket: String, warnings: [String]) {
        let preparation = await PunchPreparation.prepare(servers: configuration.stunServers)
        let (tcp, udp) = (preparation.tcp, preparation.udp)
        if tcp.mapping == .endpointDependent, udp.mapping == .endpointDependent || udp.observations.isEmpty {
            let seen = tcp.observations.map { "\($0.mapped) toward \($0.server)" }.joined(separator: ", ")
            throw .failed(
                "this host is behind a symmetric NAT (a new public port for each destination: \(seen)), so no hole can be punched; "
                    + "use a relay (Relay=) or forward a port to s2sd (Listen=, ExternalAddress=)")
        }
        var warnings: [String] = []
        if tcp.observations.isEmpty && udp.observations.isEmpty {
            let errors = tcp.errors + udp.errors.filter { !tcp.errors.contains($0) }
            warnings.append("no STUN server answered (\(errors.joined(separator: "; "))): the ticket names this host's own addresses only, enough on the same network")
        } else if tcp.mapping == .unknown {
            warnings.append("only one STUN server address answered: whether the NAT keeps the port for every destination is unknown")
        }
        let now = UInt32(clamping: Clock.nowMicroseconds / 1_000_000)
        let role: PunchTicket.Role = endpoint == nil ? .sender : .receiver
        let ticket = preparation.ticket(role: role, now: now)
        let udpPort = ticket.udpCandidates.isEmpty ? 0 : udp.localPort
        let handle = try await punches.add(
            .init(
                owner: owner, role: role, endpointKey: endpoint?.id.publicKey, localPort: preparation.localPort, udpPort: udpPort,
                expires: ticket.expires), now: now)
        logger.info(
            "punch prepared",
            metadata: [
                "caller_uid": "\(owner)", "role": "\(role == .sender ? "send" : "receive")", "local_port": "\(preparation.localPort)",
                "udp_port": "\(udpPort)", "mapping": "\(tcp.mapping.rawValue)", "udp_mapping": "\(udp.mapping.rawValue)",
                "candidates": "\(ticket.candidates.count)", "udp_candidates": "\(ticket.udpCandidates.count)",
            ])
        return (handle, ticket.description, warnings)
    }

    /// The receiving side of a punched route: from the prepared ports to the sender's addresses,
    /// at the shared clock slots, both TCP simultaneous open (``TCPPunch``) and SRT over UDP
    /// when both tickets name a UDP address; each connection that opens is served like any
    /// incoming one (the Noise handshake proves the sender knows the endpoint's ID), and the
    /// first handshake settles it: the other attempt stops. Returns once the handshake is over,
    /// with the address the connection reached; the transfer goes on in the daemon.
    package func punch(handle: String, ticket text: String, requester: UInt32) async throws(EngineError) -> String {
        let now = UInt32(clamping: Clock.nowMicroseconds / 1_000_000)
        let ticket: PunchTicket
        do {
            ticket = try PunchTicket(parsing: text, now: now)
        } catch {
            throw .invalidArgument(error.description)
        }
        guard ticket.role == .sender else { throw .invalidArgument(PunchTicket.ParseError.wrongRole(ticket.role).description) }
        let prepared = try await punches.take(handle, owner: requester, role: .receiver, now: now)
        guard let key = prepared.endpointKey, await endpoints.endpoint(publicKey: key) != nil else {
            throw .notFound("the endpoint this punch was prepared for is gone")
        }
        let path = DirectPath.Punched(
            localPort: prepared.localPort, candidates: ticket.candidates.compactMap(DirectCandidate.init), udpPort: prepared.udpPort,
            udpRemote: ticket.udpCandidates.first.flatMap(DirectCandidate.init))
        guard !path.transports.isEmpty else {
            throw .invalidArgument("the sender's ticket names only UDP addresses, and this side has no UDP port to punch from")
        }
        let (context, limits, logger) = (peers.context, configuration.peerLimits, logger)
        let outcome = Mutex<CheckedContinuation<Result<String, EngineError>, Never>?>(nil)
        let result = await withCheckedContinuation { continuation in
            outcome.withLock { $0 = continuation }
            let finish: @Sendable (Result<String, EngineError>) -> Void = { result in
                outcome.withLock { pending in
                    pending?.resume(returning: result)
                    pending = nil
                }
            }
            transferService.submit {
                let settled = PunchSettlement()
                let reasons = await withTaskGroup(of: String?.self) { group in
                    for transport in path.transports {
                        group.addTask {
                            let connection: NIOAsyncChannel<ByteBuffer, ByteBuffer>
                            do {
                                connection = try await settled.unlessSettled {
                                    try await DirectPath.connect(
                                        transport, along: path, receiver: true, limits: limits, patience: TCPPunch.patience,
                                        alignedToWallClock: true)
                                }
                            } catch is CancellationError {
                                return nil
                            } catch {
                                return "\(transport.rawValue): \(error)"
                            }
                            let peer = DirectPath.peer(of: connection, by: transport, along: path)
                            logger.info("punched", metadata: ["local_port": "\(prepared.localPort)", "transport": "\(transport.rawValue)", "peer": "\(peer)"])
                            // An SRT connection is one connection: no further ones are punched.
                            await context.serve(paired: connection, route: "punched", punched: transport == .tcp ? path : nil) {
                                settled.settle()
                                finish(.success(peer))
                            }
                            return nil
                        }
                    }
                    return await group.reduce(into: [String]()) { reasons, reason in reason.map { reasons.append($0) } }
                }
                if !reasons.isEmpty, !settled.isSettled {
                    logger.info("punch failed", metadata: ["local_port": "\(prepared.localPort)", "error": "\(reasons.joined(separator: "; "))"])
                }
                finish(.failure(.failed(reasons.isEmpty ? "the punched connection closed before the handshake" : reasons.joined(separator: "; "))))
            }
        }
        return try result.get()
    }

    // MARK: Endpoints

    /// Creates an endpoint for `owner` receiving into `directory`, after checking as that user
    /// that the directory is one they may write (docs/security.md).
    package func createEndpoint(owner: UInt32, directory requested: String, options: EndpointOptions) async throws(EngineError) -> Endpoint {
        let user = try UserContext.lookup(uid: owner)
        let sandbox = self.sandbox
        let directory = try await user.run { () throws(EngineError) in
            try EndpointDirectory.check(requested, owner: owner, sandbox: sandbox)
        }
        let endpoint = try await endpoints.create(owner: owner, directory: directory, options: options, now: Clock.nowMicroseconds)
        logger.info("endpoint created", metadata: endpoint.logMetadata(requester: owner))
        sink.emit(.endpointAdded(endpoint))
        return endpoint
    }

    /// Deletes an endpoint and cancels the transfers running into it.
    package func deleteEndpoint(_ endpoint: Endpoint, requester: UInt32) async throws(EngineError) {
        try await endpoints.remove(endpoint)
        await transfers.cancelIncoming(endpoint: endpoint.number)
        logger.info("endpoint deleted", metadata: endpoint.logMetadata(requester: requester))
        sink.emit(.endpointRemoved(endpoint))
    }

    /// The endpoints in `scope`, by number.
    package func endpoints(in scope: Scope) async -> [Endpoint] {
        await endpoints.endpoints(in: scope)
    }

    /// The endpoint with this ID, whoever owns it: the front-end decides who may see it.
    package func endpoint(id: EndpointID) async -> Endpoint? {
        await endpoints.endpoint(id: id)
    }

    /// The endpoint the bus names `object` (its owner's and its number), as it is now, whoever
    /// owns it: the front-end decides who may see it.
    package func endpoint(_ object: ObjectNumber) async -> Endpoint? {
        await endpoints.endpoint(object)
    }

    package var endpointCount: Int {
        get async { await endpoints.count }
    }

    /// What is under way, in numbers: for the service manager's status line and the like.
    package struct Summary: Sendable, Equatable {
        package var endpoints: Int
        package var receiving: Int
        package var sending: Int
        package var queued: Int
    }

    package var summary: Summary {
        get async {
            let counts = await queue.counts
            return Summary(
                endpoints: await endpoints.count, receiving: await transfers.activeIncomingCount, sending: counts.running,
                queued: counts.waiting)
        }
    }

    /// Where an endpoint waits on the relay route; nil without relays.
    package func relayStatus(of endpoint: Endpoint) -> RelayWaiter.Status? {
        relayBoard.status(of: endpoint.number)
    }

    // MARK: Sending

    /// The most sources one send may name, and the most bytes their paths may take together:
    /// what one call can make the daemon store and list (a directory counts once).
    package static let maxSourcesPerSend = 4096
    package static let maxSourceBytesPerSend = 256 << 10

    /// Scans the sources as `owner` (a bad source fails the request), then queues the transfer;
    /// returns it and what the scan skipped.
    package func send(owner: UInt32, sources: [String], destination text: String, options: SendOptions) async throws(EngineError) -> (
        Transfer, warnings: [String]
    ) {
        guard !sources.isEmpty else { throw .invalidArgument("nothing to send: no sources") }
        guard sources.count <= Self.maxSourcesPerSend else {
            throw .limitExceeded("a send may name at most \(Self.maxSourcesPerSend) sources, not \(sources.count); send their directory instead")
        }
        let pathBytes = sources.reduce(0) { $0 + $1.utf8.count }
        guard pathBytes <= Self.maxSourceBytesPerSend else {
            throw .limitExceeded(
                "the sources' paths take \(pathBytes) bytes, more than a send may (\(Self.maxSourceBytesPerSend)); send their directory instead")
        }
        var options = options
        if let request = options.punchRequest {
            options.punch = try await punchRoute(for: request, owner: owner)
            options.punchRequest = nil
            // The punch happens once, at the moment both sides agreed on.
            options.retryFor = 0
            options.maxAttempts = 1
        }
        let destination = try Destination(parsing: text, hasRelays: !configuration.relays.isEmpty || options.punch != nil)
        let user = try UserContext.lookup(uid: owner)
        let follow = options.followSymlinks
        let tree = try await user.run { () throws(EngineError) in
            try SourceTree.scan(sources, followSymlinks: follow, maxEntries: ProtocolLimits.defaultMaxEntries)
        }
        let key = SendTokenStore.key(owner: owner, destination: destination, sources: sources, digest: options.digest, followSymlinks: follow)
        do {
            // Taken now, so that the send's token exists before the call returns: an attempt
            // after a restart uses the same one.
            _ = try tokens.token(for: key, now: Clock.nowMicroseconds)
        } catch {
            throw .failed("cannot record the transfer: \(error)")
        }
        let transfer = try await queue.add(owner: owner, sources: sources, destination: destination, options: options, tree: tree, tokenKey: key)
        logger.info(
            "send queued",
            metadata: [
                "transfer": "\(transfer.objectNumber)", "caller_uid": "\(owner)", "files": "\(tree.fileCount)",
                "bytes": "\(tree.totalBytes)", "destination": "\(destination.routeDescription)", "priority": "\(options.priority)",
            ])
        return (transfer, tree.warnings)
    }

    /// The sending side's punched route from `Send`'s punch options: the prepared port, taken,
    /// and the receiver's ticket, read.
    private func punchRoute(for request: PunchRequest, owner: UInt32) async throws(EngineError) -> PunchRoute {
        guard !request.handle.isEmpty, !request.ticket.isEmpty else {
            throw .invalidArgument("a punched send needs both PunchHandle and PunchTicket")
        }
        let now = UInt32(clamping: Clock.nowMicroseconds / 1_000_000)
        let ticket: PunchTicket
        do {
            ticket = try PunchTicket(parsing: request.ticket, now: now)
        } catch {
            throw .invalidArgument(error.description)
        }
        guard ticket.role == .receiver else { throw .invalidArgument(PunchTicket.ParseError.wrongRole(ticket.role).description) }
        let prepared = try await punches.take(request.handle, owner: owner, role: .sender, now: now)
        return PunchRoute(localPort: prepared.localPort, udpPort: prepared.udpPort, ticket: ticket)
    }

    /// Sends queued and running: (waiting, running).
    package var queueCounts: (waiting: Int, running: Int) {
        get async { await queue.counts }
    }

    // MARK: Transfers

    /// The running and recent transfers in `scope`, by number.
    package func transfers(in scope: Scope) async -> [Transfer] {
        await transfers.transfers(in: scope)
    }

    /// The transfer the bus names `object` (its owner's and its number), whoever owns it: the
    /// front-end decides who may see it.
    package func transfer(_ object: ObjectNumber) async -> Transfer? {
        await transfers.transfer(object)
    }

    /// Every transfer in `scope` the history keeps, running ones included.
    package func history(in scope: Scope) async throws(EngineError) -> [Transfer] {
        do {
            return try await transfers.history(in: scope)
        } catch {
            throw .failed("cannot read the history: \(error)")
        }
    }

    /// Forgets the finished transfers in `scope`; returns how many.
    package func clearFinished(in scope: Scope, requester: UInt32) async throws(EngineError) -> Int {
        let cleared: Int
        do {
            cleared = try await transfers.clearFinished(owner: scope.owner)
        } catch {
            throw .failed("cannot clear the history: \(error)")
        }
        logger.info("finished transfers cleared", metadata: ["caller_uid": "\(requester)", "count": "\(cleared)"])
        return cleared
    }

    /// Cancels a transfer: a send leaves the queue, a receive stops and keeps nothing.
    package func cancel(_ transfer: Transfer) async throws(EngineError) {
        if transfer.direction == .send {
            try await queue.cancel(transfer)
            return
        }
        if await peers.context.cancelPaused(transfer) { return }
        guard transfer.requestCancel() else {
            throw .invalidArgument("the transfer has already ended (\(transfer.snapshot.state.rawValue))")
        }
    }

    /// Changes a running transfer's own rate limit (0: none); the daemon's limit still applies.
    package func setRateLimit(_ transfer: Transfer, bytesPerSecond rate: UInt64) async throws(EngineError) {
        guard !transfer.snapshot.state.isFinished else {
            throw .invalidArgument("the transfer has already ended (\(transfer.snapshot.state.rawValue))")
        }
        if transfer.direction == .send {
            try await queue.setRateLimit(transfer, rate)
        } else {
            transfer.setRateLimit(rate)
        }
    }

    /// Stops an outgoing transfer's attempt and keeps it queued until ``resume(_:)``.
    package func pause(_ transfer: Transfer) async throws(EngineError) {
        try Self.requireOutgoing(transfer)
        try await queue.pause(transfer)
    }

    package func resume(_ transfer: Transfer) async throws(EngineError) {
        try Self.requireOutgoing(transfer)
        try await queue.resume(transfer)
    }

    private static func requireOutgoing(_ transfer: Transfer) throws(EngineError) {
        guard transfer.direction == .send else {
            throw .invalidArgument("only outgoing transfers can be paused and resumed; this one is incoming")
        }
    }

    // MARK: Limits

    /// Changes daemon-wide limits by configuration key, now and for the daemon's next starts
    /// (`limits.conf` in the state directory).
    package func setLimits(_ changes: [String: UInt64], requester: UInt32) async throws(EngineError) {
        let updated = try limits.current.applying(changes)
        try updated.save(inDirectory: configuration.stateDirectory)
        limits.replace(with: updated)
        await endpoints.setMaxEndpointsPerUser(updated.maxEndpointsPerUser)
        await queue.schedule()
        var metadata: Logger.Metadata = ["caller_uid": "\(requester)"]
        for (key, value) in updated.values { metadata[key.lowercased()] = "\(value)" }
        logger.notice("limits changed", metadata: metadata)
    }

    /// Ends ``events`` (the daemon stops).
    package func finishEvents() {
        sink.finish()
    }
}

extension Endpoint {
    /// What the log says about an endpoint: never the ID, which is a capability to send to it.
    func logMetadata(requester: UInt32) -> Logger.Metadata {
        ["endpoint": "\(objectNumber)", "owner": "\(owner)", "directory": "\(directory.path)", "caller_uid": "\(requester)"]
    }
}
