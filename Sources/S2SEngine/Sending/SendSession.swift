import S2SCore
import Crypto
import FoundationEssentials
import Logging
import S2SPeer
import S2SProtocol
import Synchronization
import NIOCore
import S2SNat
#if canImport(Glibc)
import Glibc
#endif

/// The sender's side of one session (docs/protocol.md): connects, offers the scanned tree, sends
/// the files the receiver does not hold yet, one by one, reading each as the sending user, and
/// succeeds only once the receiver confirmed every file.
///
/// Reading and sending overlap: this task reads, hashes and seals the next chunk while the
/// channel's event loop writes the previous ones (in a striped session, the connections take the
/// records from `StripedOutbound` and seal them).
final class SendSession: Sendable {
    /// Bytes read from a source per system call; sent as several DATA records.
    static let readSize = 1 << 20
    /// The read batches a session takes in turn: more than the MiBs that can be in flight (the
    /// write window, and a striped session's queue), so that the one taken next has usually left.
    static let batchesInTurn = 8

    private let transfer: Transfer
    private let tree: SourceTree
    private let destination: Destination
    private let token: TransferToken
    private let digest: DigestAlgorithm
    private let followSymlinks: Bool
    private let user: UserContext
    private let logger: Logger
    private let relays: [RelayAddress]
    private let relayDeadline: Duration
    /// The configured peer timeouts (`PeerHandshakeTimeout` and the others), which bound a send's
    /// session as they bound a received one.
    private let timeouts: ProtocolLimits
    /// Move mode: the source files that are as they were when this send first offered them
    /// (`SendTokenStore.unchangedSinceFirstOffer`).
    private let unchangedSinceFirstOffer: Set<String>
    /// TCP connections wanted; nil: ``StreamCount/automatic(roundTripMicroseconds:bytes:)``.
    private let streams: Int?
    /// Which endpoints take AES-GCM: the first connection's cipher, and what its HELLO teaches.
    private let ciphers: CipherMemory
    /// The punched route, instead of the destination's: one connection through both NATs.
    private let punch: PunchRoute?
    /// On the relay route: ask for a direct path (docs/protocol.md, "Relay to direct"), with
    /// these STUN servers; nil: stay on the relay.
    private let direct: [StunServer]?

    init(
        transfer: Transfer, tree: SourceTree, destination: Destination, token: TransferToken,
        digest: DigestAlgorithm, followSymlinks: Bool, user: UserContext, logger: Logger,
        relays: [RelayAddress] = [], relayDeadline: Duration = SecureChannel.defaultRelayDeadline,
        timeouts: ProtocolLimits = .default, unchangedSinceFirstOffer: Set<String> = [], streams: Int? = nil,
        ciphers: CipherMemory = CipherMemory(), punch: PunchRoute? = nil, direct: [StunServer]? = nil
    ) {
        self.punch = punch
        self.direct = punch == nil && destination.route == .relay ? direct : nil
        self.streams = streams
        self.ciphers = ciphers
        self.timeouts = timeouts
        self.unchangedSinceFirstOffer = unchangedSinceFirstOffer
        self.relays = relays
        self.relayDeadline = relayDeadline
        self.transfer = transfer
        self.tree = tree
        self.destination = destination
        self.token = token
        self.digest = digest
        self.followSymlinks = followSymlinks
        self.user = user
        var logger = logger
        logger[metadataKey: "transfer"] = "\(transfer.objectNumber)"
        self.logger = logger
    }

    /// The session's shared state: both directions feed the validator.
    private final class Shared: Sendable {
        let validator: Mutex<SessionValidator>
        let failures = Mutex<[String]>([])
        /// Whether the handshake completed.
        let connected = Mutex(false)
        /// The punched path the session runs on (punch tickets, or moved from the relay): its
        /// further connections punch holes of their own next to it.
        let punchedPath = Mutex<DirectPath.Punched?>(nil)
        /// The receiver's CANCEL, once read: it explains the session's end better than a
        /// connection that failed at the same time.
        let receiverCancel = Mutex<CancelCode?>(nil)
        /// Set when the session is striped: where its records go, and the next SEQ number.
        let striping = Mutex<(outbound: StripedOutbound, next: UInt64)?>(nil)

        /// The further connections carrying records now, and the `TCP_INFO` of those that ended.
        let stripes = Mutex<(open: [ObjectIdentifier: SecureChannel], ended: [TCPPathReport])>(([:], []))
        /// Rings when the striped session's records are all queued, or it failed.
        let stripingEnded = Doorbell()

        var outbound: StripedOutbound? { striping.withLock { $0?.outbound } }

        /// No more records for the further connections: all are queued (`failure` nil), or the
        /// session failed and the queued ones are dropped.
        func endStriping(failure: PeerError? = nil) {
            guard let outbound else { return }
            if let failure { outbound.fail(failure) } else { outbound.finish() }
            stripingEnded.ring()
        }

        /// The next SEQ number (taken).
        func takeSequence() -> UInt64 {
            striping.withLock { striping in
                let next = striping?.next ?? 0
                striping?.next += 1
                return next
            }
        }
        init() {
            // The sender's limits bound only what it offers itself.
            validator = Mutex(SessionValidator(
                role: .sender, limits: ProtocolLimits(maxEntries: Int(UInt32.max), maxOfferPathBytes: Int(Int32.max))))
        }
    }

    /// Runs one attempt of the transfer to its end and says how it ended; never throws. The
    /// caller (the `SendQueue`) decides what the end means for the transfer: done, failed, or
    /// another attempt later.
    func run() async -> SendOutcome {
        let shared = Shared()
        if let punch { shared.punchedPath.withLock { $0 = punch.path } }
        var ending: SendEnding?
        defer { transfer.clearCancelHandler() }
        do {
            let worker = try UserWorker(user)
            defer { worker.stop() }
            let key = try Curve25519.KeyAgreement.PublicKey(rawRepresentation: destination.id.publicKey)
            let session: (SecureChannel) async throws -> Void = { channel in
                try await self.session(on: channel, shared, worker: worker)
            }
            do {
                try await connect(key: key) { channel in
                    // Relay to direct: before the offer, so nothing sent is lost by the move.
                    if channel.directAgreed, let (connection, path) = try await directPath(on: channel, shared) {
                        throw MovingToDirectPath(connection: connection, path: path)
                    }
                    try await session(channel)
                }
            } catch let move as MovingToDirectPath {
                // The relayed connection is closed (without CANCEL); the session starts again.
                shared.punchedPath.withLock { $0 = move.path }
                logger.info("moved to a direct path", metadata: ["peer": "\(move.connection.channel.remoteAddress.map(NetworkErrorText.describe) ?? "?")"])
                try await SecureChannel.connect(
                    paired: move.connection, endpointKey: key, cipher: ciphers.cipher(for: destination.id.publicKey), limits: timeouts, session)
            }
        } catch let error as SendEnding {
            ending = error
        } catch {
            ending = self.ending(after: error)
            if case .lost(let reason)? = ending, !shared.connected.withLock({ $0 }), SendEnding.isHandshakeRejection(error) {
                ending = .rejected(reason)
            }
        }
        return conclude(ending, shared)
    }

    /// The session on one connection, from the offer to the end.
    private func session(on channel: SecureChannel, _ shared: Shared, worker: UserWorker) async throws {
        shared.connected.withLock { $0 = true }
        ciphers.learn(channel.peerHello, for: destination.id.publicKey)
        transfer.onCancel { code in
            Task {
                // A pause (nil) keeps the receiver's data: CANCEL(paused) to a receiver
                // that knows it (it then shows the transfer paused), a close otherwise.
                if let code {
                    try? await channel.send(.cancel(code))
                } else if channel.peerHello.has(Hello.Feature.pause) {
                    try? await channel.send(.cancel(.paused))
                }
                await channel.close()
            }
        }
        do {
            let plan = try await offer(channel, shared)
            try await sendAll(channel, shared, plan: plan, worker: worker)
        } catch {
            await reportPath(of: channel, shared)
            // Let a CANCEL already written reach the peer before the connection goes.
            await channel.close()
            throw error
        }
        await reportPath(of: channel, shared)
        await channel.close()
    }

    /// Thrown out of the relayed connection's session to close it and go on on `connection`.
    private struct MovingToDirectPath: Error {
        let connection: NIOAsyncChannel<ByteBuffer, ByteBuffer>
        let path: DirectPath.Punched
    }

    /// Relay to direct, the sender's side (docs/protocol.md): reads the receiver's CANDIDATES;
    /// with some, prepares a port, sends its own, waits the relayed connection's round trip (so
    /// that both sides' first SYNs leave about together) and punches. Returns the direct
    /// connection, or nil to go on on the relay (after sending its CANDIDATES, empty, when the
    /// receiver offered some).
    private func directPath(
        on channel: SecureChannel, _ shared: Shared
    ) async throws -> (NIOAsyncChannel<ByteBuffer, ByteBuffer>, DirectPath.Punched)? {
        let record = try await receive(channel, shared)
        guard case .candidates(let theirs) = record else {
            throw SendEnding.lost("the receiver sent \(record.type) where its CANDIDATES were due")
        }
        guard !theirs.isEmpty else { return nil }
        return try await DirectPath.inSlot {
            let ours = await DirectPath.prepare(servers: direct ?? [])
            try await send(.candidates(ours.candidates), channel, shared)
            guard !ours.candidates.isEmpty else { return nil }
            let roundTrip = await channel.pathReport().map { Duration.microseconds(Int64(min($0.roundTrip, 1_000_000))) } ?? .zero
            try await Task.sleep(for: roundTrip)
            let path = DirectPath.Punched(localPort: ours.port, candidates: theirs)
            return await DirectPath.punch(along: path, receiver: false, limits: timeouts, logger: logger).map { ($0, path) }
        } otherwise: {
            // Every slot is taken: decline, and go on on the relay.
            try await send(.candidates([]), channel, shared)
        }
    }

    /// Says in the journal when a socket buffer's maximum held the transfer back on a long link
    /// (docs/systemd.md, "Long paths"): the one thing about a slow transfer that only the kernel
    /// knows and an administrator can change.
    private func reportPath(of channel: SecureChannel, _ shared: Shared) async {
        var reports = await [channel.pathReport()].compactMap { $0 }
        reports += shared.stripes.withLock { $0.ended }
        guard let report = TCPPathReport.combined(reports), let limitation = report.limitation else { return }
        let roundTrip = "\(report.roundTrip / 1000) ms"
        switch limitation {
        case .sendBuffer(let percent):
            logger.notice(
                "this host's TCP send buffer maximum held the transfer back for \(percent) % of its sending time (round trip \(roundTrip)): raise net.ipv4.tcp_wmem's maximum (docs/systemd.md, \"Long paths\")",
                metadata: ["limited_by": "tcp_wmem", "limited_percent": "\(percent)", "rtt_us": "\(report.roundTrip)"])
        case .receiveWindow(let percent):
            logger.notice(
                "the receiver's TCP window held the transfer back for \(percent) % of its sending time (round trip \(roundTrip)): the receiving host reads slower than the link (its disk, its download limit), or its net.ipv4.tcp_rmem maximum is too small for this round trip (docs/systemd.md, \"Long paths\")",
                metadata: ["limited_by": "receive_window", "limited_percent": "\(percent)", "rtt_us": "\(report.roundTrip)"])
        }
    }

    /// Opens the session on the destination's route: straight to its address, or through the
    /// relay chosen for its token (retrying until ``relayDeadline`` while no receiver is waiting).
    /// The first connection announces AES-GCM when an earlier session learnt that the endpoint
    /// takes it (``CipherMemory``); one that then fails before its session began forgets that.
    private func connect(
        key: Curve25519.KeyAgreement.PublicKey, _ body: (SecureChannel) async throws -> Void
    ) async throws {
        let cipher = ciphers.cipher(for: destination.id.publicKey)
        var started = false
        let session: (SecureChannel) async throws -> Void = { channel in
            started = true
            try await body(channel)
        }
        do {
            if let punch {
                let connection = try await Self.punched(punch, limits: timeouts, logger: logger)
                try await SecureChannel.connect(paired: connection, endpointKey: key, cipher: cipher, limits: timeouts, session)
                return
            }
            switch destination.route {
            case .direct(let host, let port):
                try await SecureChannel.connect(host: host, port: port, endpointKey: key, cipher: cipher, limits: timeouts, session)
            case .relay:
                // Asking for a direct path is a HELLO flag; the receiver answers it only if its
                // endpoint allows it.
                var hello = Hello(limits: timeouts)
                if direct != nil { hello.flags |= Hello.Feature.direct }
                do {
                    try await SecureChannel.connect(
                        viaRelays: relays, endpointKey: key, hello: hello, cipher: cipher, limits: timeouts, deadline: relayDeadline, session)
                } catch let error as RelayError {
                    throw SendEnding.noReceiver("\(error)")
                }
            }
        } catch {
            if !started, cipher == .aesGCM { ciphers.forget(destination.id.publicKey) }
            throw error
        }
    }

    /// The connection of a punched route: TCP simultaneous open from the prepared port to the
    /// receiver's addresses, raced with SRT over UDP when both tickets name a UDP address, at the
    /// clock slots both sides share (``TCPPunch``). The receiver serves whichever connects; the
    /// Noise handshake on the first one here settles it.
    private static func punched(_ punch: PunchRoute, limits: ProtocolLimits, logger: Logger) async throws -> NIOAsyncChannel<ByteBuffer, ByteBuffer> {
        do {
            let (connection, transport) = try await DirectPath.connect(
                along: punch.path, receiver: false, limits: limits, patience: TCPPunch.patience, alignedToWallClock: true)
            logger.info(
                "punched",
                metadata: [
                    "local_port": "\(punch.localPort)", "transport": "\(transport.rawValue)",
                    "peer": "\(DirectPath.peer(of: connection, by: transport, along: punch.path))",
                ])
            return connection
        } catch {
            throw SendEnding.noReceiver("no hole could be punched to the receiver: \(error)")
        }
    }

    // MARK: Steps

    /// Sends the offer and reads the answer: what to send of each file.
    private func offer(_ channel: SecureChannel, _ shared: Shared) async throws -> SendPlan {
        let records: [Record] =
            [.offerBegin(token: token, digest: digest, entryCount: UInt32(tree.entries.count), totalBytes: tree.totalBytes)]
            + tree.entries.map { .entry($0) } + [.offerEnd]
        do {
            try await send(records, channel, shared)
        } catch SendEnding.lost(let reason) {
            // A receiver that refuses early closes: its REFUSE may be waiting to be read.
            if case .refuse(let code)? = try? await channel.receive() { throw SendEnding.refused(code) }
            throw SendEnding.lost(reason)
        }
        var resume: [UInt32: ResumePoint.Position] = [:]
        while true {
            let record = try await receive(channel, shared)
            switch record {
            case .accept(_, let points), .acceptMore(let points):
                for point in points { resume[point.entry] = point.position }
            case .refuse(let code):
                throw SendEnding.refused(code)
            default:
                break
            }
            if shared.validator.withLock({ $0.phase == .transferring }) { return SendPlan(resume: resume, entries: tree.entries) }
        }
    }

    /// Sends the files while reading the receiver's results; returns after DONE_ACK.
    private func sendAll(_ channel: SecureChannel, _ shared: Shared, plan: SendPlan, worker: UserWorker) async throws {
        let resumedBytes = plan.resumedBytes
        let complete = plan.completeFiles
        let completeBytes = plan.completeBytes
        var kept: [String] = []
        // Confirmed to an earlier attempt (maybe of a daemon killed before it removed the file)
        // and still here: removed if unchanged since it was first offered.
        for index in plan.completeIndices {
            if transfer.removeSource, let source = tree.sources[Int(index)] {
                if unchangedSinceFirstOffer.contains(source.path) {
                    await removeSource(source, worker: worker)
                } else {
                    kept.append("\(source.path): the receiver had it from an earlier attempt and it may have changed since")
                }
            }
        }
        transfer.update {
            $0.state = .sending
            $0.bytesTotal = tree.totalBytes
            $0.bytesResumed = resumedBytes + completeBytes
            $0.bytesDone = resumedBytes + completeBytes
            $0.bytesConfirmed = completeBytes
            $0.filesTotal = UInt64(tree.fileCount)
            $0.filesDone = complete
            for entry in kept.sorted() { $0.keep(entry) }
        }
        logger.info(
            "sending", metadata: ["files": "\(tree.fileCount)", "bytes": "\(tree.totalBytes)", "resumed_bytes": "\(resumedBytes)",
                                  "complete_files": "\(complete)"])
        let toSend = tree.totalBytes - min(resumedBytes + completeBytes, tree.totalBytes)
        let streams = await streamCount(channel, bytes: toSend)
        let (invitations, invite) = AsyncStream.makeStream(of: (extra: UInt8, secret: StripeSecret).self)
        if streams > 1 {
            shared.striping.withLock { $0 = (StripedOutbound(), 0) }
            logger.info("striping the transfer", metadata: ["streams": "\(streams)"])
        }
        let outbound = shared.outbound
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                defer { invite.finish() }
                do {
                    try await self.readResults(channel, shared, worker: worker, invite: invite)
                } catch {
                    shared.endStriping(failure: .closed("the session ended"))
                    throw error
                }
            }
            if let outbound {
                group.addTask { try await outbound.carry(on: channel) }
                group.addTask {
                    await self.openStripes(streams - 1, invitations, main: channel, shared: shared, outbound: outbound)
                }
            }
            do {
                try await sendFiles(channel, shared, plan: plan, worker: worker)
                shared.endStriping()
            } catch SendEnding.lost(let reason) {
                shared.endStriping(failure: .closed("the session ended"))
                // The receiver must learn that the session ended even when the connection that
                // failed was a further one, whose loss it may not see (a reset lost on the way,
                // or the orderly close of the others): this side's end of stream on the main
                // connection tells it. The reader then reads on to the receiver's end of stream:
                // a receiver that cancelled sent CANCEL before it, which says more than the
                // failed write.
                await channel.finishSending()
                try? await group.waitForAll()
                if let code = shared.receiverCancel.withLock({ $0 }) { throw SendEnding.cancelledByReceiver(code) }
                throw SendEnding.lost(reason)
            } catch {
                shared.endStriping(failure: .closed("the session ended"))
                throw error
            }
            transfer.update { $0.state = .verifying; $0.currentFile = "" }
            do {
                try await group.waitForAll()
            } catch {
                shared.endStriping(failure: .closed("the session ended"))
                // Of a striped session's connections, another may have failed first.
                if let code = shared.receiverCancel.withLock({ $0 }) { throw SendEnding.cancelledByReceiver(code) }
                throw error
            }
        }
    }

    /// How many connections this session uses: the configured count, or the automatic one for the
    /// first connection's round trip and the `bytes` left to send; one toward a receiver that
    /// cannot stripe.
    private func streamCount(_ channel: SecureChannel, bytes: UInt64) async -> Int {
        guard channel.peerHello.has(Hello.Feature.stripes) else { return 1 }
        if let streams { return streams }
        guard let report = await channel.pathReport() else { return 1 }
        return StreamCount.automatic(roundTripMicroseconds: report.roundTrip, bytes: bytes)
    }

    /// Opens up to `wanted` further connections once the receiver's STRIPES invites them (straight
    /// to the receiver, or through the relay under each one's own token), each joining the
    /// session and carrying records from `outbound` until the session's end. With the automatic
    /// count, opens one more whenever ``StreamGrowth`` says the connections are held back by their
    /// buffers, up to ``StreamCount/mostAutomatic`` in all. No more than ``JoinHandshakes/atOnce``
    /// are in their handshakes at once (the receiver drops more from one address). A connection
    /// that cannot join costs nothing but itself; one that fails after joining fails the session
    /// (its records are lost; the retry resumes).
    private func openStripes(
        _ wanted: Int, _ invitations: AsyncStream<(extra: UInt8, secret: StripeSecret)>, main: SecureChannel, shared: Shared,
        outbound: StripedOutbound
    ) async {
        guard let invitation = await invitations.first(where: { _ in true }) else { return }
        let publicKey = destination.id.publicKey
        let (route, relays, relayDeadline, timeouts, logger) = (destination.route, relays, relayDeadline, timeouts, logger)
        let punched = shared.punchedPath.withLock { $0 }
        // The receiver's HELLO on the first connection says whether it takes AES-GCM.
        let cipher = main.peerHello.preferredCipher
        let open: @Sendable (Int, JoinHandshakes.Handshake) async -> Void = { index, handshake in
            defer { handshake.end() }
            do {
                let key = try Curve25519.KeyAgreement.PublicKey(rawRepresentation: publicKey)
                let join: (SecureChannel) async throws -> Void = { stripe in
                    handshake.end()
                    try await Self.carry(outbound, on: stripe, secret: invitation.secret, shared: shared)
                }
                if let punched {
                    // A hole of its own, next to the session's on both sides.
                    guard let connection = await DirectPath.punch(
                        along: punched.stripe(index), receiver: false, limits: timeouts, logger: logger,
                        failure: "a further connection of a punched session found no hole")
                    else { return }
                    try await SecureChannel.connect(paired: connection, endpointKey: key, cipher: cipher, limits: timeouts, join)
                    return
                }
                switch route {
                case .direct(let host, let port):
                    try await SecureChannel.connect(host: host, port: port, endpointKey: key, cipher: cipher, limits: timeouts, join)
                case .relay:
                    // Each pairs at the relay under its own token (the relay pairs one sender
                    // with one receiver per token).
                    try await SecureChannel.connect(
                        viaRelays: relays, endpointKey: key, token: RelayToken(stripe: invitation.secret, index: UInt8(index)),
                        cipher: cipher, limits: timeouts, deadline: relayDeadline, join)
                }
            } catch {
                logger.info("a further connection did not join the transfer", metadata: ["error": "\(error)"])
            }
        }
        let extra = Int(invitation.extra)
        let count = min(wanted, extra)
        let handshakes = JoinHandshakes()
        await withDiscardingTaskGroup { group in
            for index in stride(from: 1, through: count, by: 1) {
                let handshake = await handshakes.waitForRoom()
                guard !outbound.isOver else {
                    handshake.end()
                    return
                }
                group.addTask { await open(index, handshake) }
            }
            guard streams == nil else { return }
            var growth = StreamGrowth()
            var opened = count
            while opened < min(StreamCount.mostAutomatic - 1, extra) {
                await shared.stripingEnded.wait(upTo: StreamGrowth.interval)
                guard !outbound.isOver else { return }
                var reports: [(connection: ObjectIdentifier, report: TCPPathReport)] = []
                for channel in [main] + shared.stripes.withLock({ Array($0.open.values) }) {
                    if let report = await channel.pathReport() { reports.append((ObjectIdentifier(channel), report)) }
                }
                guard growth.sample(reports) else { continue }
                opened += 1
                logger.info("the connections are held back by their buffers: one more", metadata: ["streams": "\(opened + 1)"])
                let handshake = await handshakes.waitForRoom()
                group.addTask { [opened] in await open(opened, handshake) }
            }
        }
    }

    /// One further connection: JOIN, JOINED, then records until the session ends.
    private static func carry(_ outbound: StripedOutbound, on stripe: SecureChannel, secret: StripeSecret, shared: Shared) async throws {
        try await stripe.send(.join(secret))
        var answer = try await stripe.receive()
        while answer == .keepalive { answer = try await stripe.receive() }
        guard answer == .joined else { throw PeerError.protocolError(.unexpectedRecord(answer.type, phase: .transferring)) }
        let id = ObjectIdentifier(stripe)
        shared.stripes.withLock { $0.open[id] = stripe }
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask {
                // The receiver sends nothing here but keepalives, and closes at the session's end.
                while true {
                    let record: Record
                    do {
                        record = try await stripe.receive()
                    } catch PeerError.closed {
                        return
                    }
                    guard record == .keepalive else {
                        outbound.fail(.protocolError(.unexpectedRecord(record.type, phase: .transferring)))
                        return
                    }
                }
            }
            do {
                try await outbound.carry(on: stripe)
            } catch {
                // carry failed the session already.
            }
            let report = await stripe.pathReport()
            shared.stripes.withLock { stripes in
                stripes.open[id] = nil
                if let report { stripes.ended.append(report) }
            }
            await stripe.close()
        }
    }

    private func sendFiles(
        _ channel: SecureChannel, _ shared: Shared, plan: SendPlan, worker: UserWorker
    ) async throws {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.readSize, alignment: 4096)
        defer { buffer.deallocate() }
        let outbound = shared.outbound
        // The files the receiver wants, in offer order, and where each starts.
        let files = tree.sources.enumerated().compactMap { position, source in
            source.flatMap { source in plan.start(UInt32(position)).map { (position: position, source: source, start: $0) } }
        }
        let opener = SourceOpener(files: files.map(\.source), worker: worker, followSymlinks: followSymlinks)
        // Read into in turn, each reusing its buffer once its records have left (DataRecordBatch):
        // as many as can be in flight, the write window's and a striped session's queue.
        var batches: [DataRecordBatch] = []
        var nextBatch = 0
        // Small files sent whole, gathered for one write (`GatheredRecords`); they go out before
        // anything else is sent and before the session waits for the user's thread.
        var gathered = GatheredRecords()
        let gatheredFileBytes = UInt64(min(GatheredRecords.fileBytes, channel.maxDataLength))
        for (nth, (position, source, start)) in files.enumerated() {
            let index = UInt32(position)
            transfer.update { $0.currentFile = tree.entries[position].path.string }
            if !opener.isOpenedAhead(nth) { try await write(&gathered, channel) }
            guard let fd = await opener.take(nth) else {
                try await write(&gathered, channel)
                try await abort(index, "\(source.path) changed or vanished since it was scanned", channel, shared)
                continue
            }
            defer { close(fd) }
            var hash = try FileDigest(FileDigest.Algorithm(rawValue: digest.rawValue) ?? .xxh3_128)
            // A rate limit set while the transfer runs applies from the next file on.
            if outbound == nil, transfer.throttle.isUnlimited, start == 0, source.size <= gatheredFileBytes {
                if let failed = try gather(fd, source, index: index, hash: &hash, buffer: buffer, into: &gathered, channel, shared) {
                    try await write(&gathered, channel)
                    try await abort(index, failed, channel, shared)
                } else if gathered.bytes >= GatheredRecords.writeBytes {
                    try await write(&gathered, channel)
                }
                continue
            }
            try await write(&gathered, channel)
            var offset: UInt64 = 0
            var failed: String?
            while offset < source.size {
                // Up to what the receiver holds (a resumed prefix) the file is only hashed.
                if offset < start {
                    let want = Int(min(UInt64(buffer.count), min(start, source.size) - offset))
                    let got = Self.retryingInterruptions { CPUAccount.measure(.read, bytes: want) { pread(fd, buffer.baseAddress, want, off_t(offset)) } }
                    guard got > 0 else {
                        failed = Self.readFailure(got, source)
                        break
                    }
                    hash.update(UnsafeRawBufferPointer(rebasing: buffer[..<got]))
                    offset += UInt64(got)
                    continue
                }
                // Past it, the file is read straight into the records.
                if batches.count < Self.batchesInTurn {
                    batches.append(channel.dataRecordBatch(bytes: Self.readSize, sequenced: outbound != nil))
                }
                let turn = nextBatch
                nextBatch = (nextBatch + 1) % Self.batchesInTurn
                let want = Int(min(UInt64(Self.readSize), source.size - offset))
                let got = Self.retryingInterruptions { CPUAccount.measure(.read, bytes: want) { batches[turn].read(from: fd, at: offset, bytes: want) } }
                guard got > 0 else {
                    failed = Self.readFailure(got, source)
                    break
                }
                batches[turn].forEachPayload { hash.update($0) }
                try await send(&batches[turn], of: index, at: offset, channel, shared)
                offset += UInt64(got)
            }
            if failed == nil, !SourceTree.unchanged(fd, source) {
                failed = "\(source.path) changed while it was read"
            }
            if let failed {
                try await abort(index, failed, channel, shared)
                continue
            }
            let digestBytes = hash.finalize()
            if tree.fileCount == 1 { transfer.update { $0.digest = FileDigest.hex(digestBytes) } }
            try await send(.fileEnd(entry: index, digest: digestBytes), channel, shared)
        }
        try await write(&gathered, channel)
        try await send(.done, channel, shared)
    }

    /// Reads a small file whole (read from its start, no more than one DATA record) and adds its
    /// DATA and FILE_END to `gathered`. Returns why the file failed, if it did (nothing of it is
    /// gathered then).
    private func gather(
        _ fd: Int32, _ source: SourceTree.Source, index: UInt32, hash: inout FileDigest, buffer: UnsafeMutableRawBufferPointer,
        into gathered: inout GatheredRecords, _ channel: SecureChannel, _ shared: Shared
    ) throws -> String? {
        let size = Int(source.size)
        var got = 0
        while got < size {
            let read = Self.retryingInterruptions {
                CPUAccount.measure(.read, bytes: size - got) { pread(fd, buffer.baseAddress.map { $0 + got }, size - got, off_t(got)) }
            }
            guard read > 0 else { return Self.readFailure(read, source) }
            got += read
        }
        guard SourceTree.unchanged(fd, source) else { return "\(source.path) changed while it was read" }
        let data = UnsafeRawBufferPointer(rebasing: buffer[..<size])
        hash.update(data)
        let digestBytes = hash.finalize()
        if tree.fileCount == 1 { transfer.update { $0.digest = FileDigest.hex(digestBytes) } }
        let fileEnd = Record.fileEnd(entry: index, digest: digestBytes)
        do {
            if size > 0 {
                try checked(shared) { (validator: inout SessionValidator) throws(ProtocolError) in
                    try validator.sendingData(entry: index, offset: 0, count: size)
                }
                gathered.append(try channel.dataPlaintext(entry: index, offset: 0, bytes: data), dataBytes: size)
            }
            try checked(shared) { (validator: inout SessionValidator) throws(ProtocolError) in try validator.sending(fileEnd) }
            gathered.append(try channel.plaintext(fileEnd), dataBytes: 0)
        } catch let error as PeerError {
            throw ending(after: error)
        }
        return nil
    }

    /// Writes the gathered records in one hop, and counts their data sent.
    private func write(_ gathered: inout GatheredRecords, _ channel: SecureChannel) async throws {
        guard !gathered.isEmpty else { return }
        do {
            try await channel.write(plaintexts: gathered.plaintexts, into: &gathered.frames)
        } catch {
            throw ending(after: error)
        }
        transfer.addBytes(gathered.dataBytes)
        gathered.removeAll()
    }

    /// Sends a batch's records (read, not yet headed; `inout`, so that writing the headers does
    /// not copy its buffer): with one connection and no rate limit all at once, sealed where they
    /// lie and handed to the event loop as one buffer; otherwise each when the limit lets it pass,
    /// in a striped session in SEQ on whichever connection takes it.
    private func send(_ batch: inout DataRecordBatch, of entry: UInt32, at offset: UInt64, _ channel: SecureChannel, _ shared: Shared) async throws {
        let outbound = shared.outbound
        let sequences = outbound == nil ? nil : batch.lengths.map { _ in shared.takeSequence() }
        batch.writeHeaders(entry: entry, offset: offset, sequences: sequences)
        let whole = outbound == nil && transfer.throttle.isUnlimited
        for (position, length) in batch.lengths.enumerated() {
            let at = offset + UInt64(position * batch.chunk)
            let sequence = sequences?[position]
            try checked(shared) { (validator: inout SessionValidator) throws(ProtocolError) in
                try validator.sendingData(entry: entry, offset: at, count: length, sequence: sequence)
            }
            if whole { continue }
            try await transfer.throttle.take(length)
            do {
                if let outbound {
                    try await outbound.enqueue(batch.record(position))
                } else {
                    try await channel.write(plaintext: batch.record(position))
                }
            } catch {
                throw ending(after: error)
            }
            transfer.addBytes(length)
        }
        guard whole else { return }
        do {
            try await channel.write(&batch)
        } catch {
            throw ending(after: error)
        }
        transfer.addBytes(batch.lengths.reduce(0, +))
    }

    /// What `read` returns, called again while it fails with `EINTR`.
    private static func retryingInterruptions(_ read: () -> Int) -> Int {
        while true {
            let got = read()
            if got < 0 && errno == EINTR { continue }
            return got
        }
    }

    /// Why a read of `source` that returned `got` (0 or less) ended the file, with `errno`'s reason.
    private static func readFailure(_ got: Int, _ source: SourceTree.Source) -> String {
        got < 0 ? "cannot read \(source.path): \(String(cString: strerror(errno)))" : "\(source.path) shrank while it was read"
    }

    /// Move mode: removes a confirmed source as the sending user, or records why it was kept.
    private func removeSource(_ source: SourceTree.Source, worker: UserWorker) async {
        let kept: String?
        do {
            kept = try await worker.run { SourceTree.removeIfUnchanged(source) }
        } catch {
            kept = "\(error)"
        }
        if let kept {
            logger.warning("a confirmed source was kept", metadata: ["path": "\(source.path)", "reason": "\(kept)"])
            transfer.update { $0.keep("\(source.path): \(kept)") }
        } else {
            transfer.update { $0.removed(source.path) }
        }
    }

    private func abort(_ index: UInt32, _ reason: String, _ channel: SecureChannel, _ shared: Shared) async throws {
        logger.warning("a source could not be sent", metadata: ["reason": "\(reason)"])
        shared.failures.withLock { $0.append(reason) }
        try await send(.fileAbort(entry: index), channel, shared)
    }

    /// Reads FILE_RESULTs until DONE_ACK; in move mode, removes each source the receiver confirmed.
    private func readResults(
        _ channel: SecureChannel, _ shared: Shared, worker: UserWorker,
        invite: AsyncStream<(extra: UInt8, secret: StripeSecret)>.Continuation
    ) async throws {
        while true {
            switch try await receive(channel, shared) {
            case .stripes(let extra, let secret):
                invite.yield((extra, secret))
            case .fileResult(let index, let code):
                let entry = tree.entries[Int(index)]
                if code == .ok {
                    transfer.update {
                        $0.filesDone += 1
                        $0.bytesConfirmed += entry.size
                    }
                    if transfer.removeSource, let source = tree.sources[Int(index)] {
                        await removeSource(source, worker: worker)
                    }
                } else if code != .cancelled {
                    shared.failures.withLock { $0.append("\(entry.path): \(code)") }
                }
            case .doneAck:
                return
            default:
                continue
            }
        }
    }

    // MARK: The channel

    /// Sends `record`: on the main connection, or, in a striped session, in SEQ on whichever
    /// connection takes it (the records after ACCEPT).
    private func send(_ record: Record, _ channel: SecureChannel, _ shared: Shared) async throws {
        if record.isSequenced, let outbound = shared.outbound {
            let sequenced = Record.sequenced(sequence: shared.takeSequence(), record)
            try checked(shared) { (validator: inout SessionValidator) throws(ProtocolError) in try validator.sending(sequenced) }
            do {
                try await outbound.enqueue(channel.plaintext(sequenced))
            } catch {
                throw ending(after: error)
            }
            return
        }
        try checked(shared) { (validator: inout SessionValidator) throws(ProtocolError) in try validator.sending(record) }
        do {
            try await channel.send(record)
        } catch {
            throw ending(after: error)
        }
    }

    /// Sends records before ACCEPT (the offer) on the main connection, many to a hop
    /// (`GatheredRecords`), where a record each was a hop to the event loop per entry of a tree.
    private func send(_ records: [Record], _ channel: SecureChannel, _ shared: Shared) async throws {
        var gathered = GatheredRecords()
        for record in records {
            try checked(shared) { (validator: inout SessionValidator) throws(ProtocolError) in try validator.sending(record) }
            do {
                gathered.append(try channel.plaintext(record), dataBytes: 0)
            } catch {
                throw ending(after: error)
            }
            if gathered.bytes >= GatheredRecords.writeBytes { try await write(&gathered, channel) }
        }
        try await write(&gathered, channel)
    }

    /// What an error that ended the attempt means: the user's cancel or pause (which closed the
    /// connection), or a lost connection.
    private func ending(after error: any Error) -> SendEnding {
        if let code = transfer.cancelRequest { return .cancelledHere(code, "cancelled") }
        return transfer.pauseRequested ? .paused : .lost("\(error)")
    }

    private func checked(_ shared: Shared, _ body: (inout SessionValidator) throws(ProtocolError) -> Void) throws {
        let result = shared.validator.withLock { validator in Result { () throws(ProtocolError) in try body(&validator) } }
        switch result {
        case .success:
            return
        case .failure(.sessionEnded):
            // The reading task saw the receiver's CANCEL while this one was still sending (writes
            // do not wait for the socket): the connection is done; sendAll reports the CANCEL.
            throw SendEnding.lost("the receiver ended the session")
        case .failure(let error):
            // Our own record broke a rule: a bug here, never the receiver's doing.
            throw SendEnding.cancelledHere(.internalError, "internal error: \(error)")
        }
    }

    private func receive(_ channel: SecureChannel, _ shared: Shared) async throws -> Record {
        let record: Record
        do {
            record = try await channel.receive()
        } catch PeerError.protocolError(let error) {
            try? await channel.send(.cancel(.protocolError))
            throw SendEnding.cancelledHere(.protocolError, "the receiver broke the protocol: \(error)")
        } catch {
            throw ending(after: error)
        }
        let result = shared.validator.withLock { validator in Result { () throws(ProtocolError) in try validator.received(record) } }
        if case .failure(let error) = result {
            try? await channel.send(.cancel(.protocolError))
            throw SendEnding.cancelledHere(.protocolError, "the receiver broke the protocol: \(error)")
        }
        if case .cancel(let code) = record {
            shared.receiverCancel.withLock { $0 = code }
            throw SendEnding.cancelledByReceiver(code)
        }
        return record
    }

    // MARK: The end

    /// What the attempt's end means; also logs it.
    private func conclude(_ ending: SendEnding?, _ shared: Shared) -> SendOutcome {
        let failures = ending == nil ? shared.failures.withLock { $0 } : []
        let conclusion = SendConclusion(
            ending, failures: failures, cancelRequested: transfer.cancelRequest != nil, pauseRequested: transfer.pauseRequested)
        logger.log(level: conclusion.level, conclusion.message, metadata: conclusion.metadata)
        return conclusion.outcome
    }
}
