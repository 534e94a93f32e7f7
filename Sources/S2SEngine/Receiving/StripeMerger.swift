import S2SPeer
import S2SProtocol
import Synchronization

/// One connection of a striped session as ``StripeMerger`` reads it: a ``SecureChannel``.
protocol StripeConnection: AnyObject, Sendable {
    func receive() async throws -> Record
    func close() async
}

extension SecureChannel: StripeConnection {}

/// The receiver's half of a striped session (docs/protocol.md, "Striped sessions"): reads every
/// connection of the session at once and hands the session its records in SEQ order, so that
/// everything after (the validator, the files, resume, quotas, progress) sees one connection's
/// stream.
///
/// Each connection is read by its own feed, which queues what it reads and goes on reading while
/// the session's queued records stay under ``capacity``; the session takes every record that is
/// next in one go, not one hand-over per record. A feed whose records wait stops reading once the
/// queue is full, so a connection that runs ahead is held back through TCP's flow control, not
/// through memory here; a feed with nothing queued always reads, so the connection that carries
/// the next record is never held back by the others (the queue holds at most ``capacity`` and one
/// record per connection). A feed that waits while the next record does not come for
/// ``gapTimeout`` ends the session (a gap that no connection fills).
final class StripeMerger: Sendable {
    let secret: StripeSecret
    /// The further connections this session accepts (STRIPES' `extra`).
    let extra: Int
    /// How long the next record may be missing while another connection has a later one.
    let gapTimeout: Duration
    /// The bytes of records that may wait for the session before feeds with records queued stop
    /// reading (what ``Record/heldBytes`` counts).
    let capacity: Int

    private enum Handover {
        case records([Record])
        case failure(any Error)
    }

    /// Feeds waiting to read again.
    private typealias Readers = [CheckedContinuation<Void, any Error>]
    /// A waiting session's wake-up: what it takes, and the feeds its taking lets read again.
    private typealias SessionWake = (session: CheckedContinuation<Handover, Never>, handover: Handover, readers: Readers)

    /// A record a feed read, waiting for the session.
    private struct Queued {
        var record: Record
        var feed: Int
        var size: Int
    }

    /// One connection's feed: what it has queued, its wait for room, and whether it has ended.
    private struct Feed {
        var bytes = 0
        var waiting: CheckedContinuation<Void, any Error>?
        /// A further connection's clean end of stream: the sender had nothing more for it.
        var ended = false
    }

    private struct State {
        var next: UInt64 = 0
        /// Records in SEQ that wait for the session, by their sequence number.
        var pending: [UInt64: Queued] = [:]
        /// The main connection's records that are not in SEQ (CANCEL, or a broken sender's bare
        /// record, which the validator rejects), handed over before anything else.
        var control: [Queued] = []
        var queuedBytes = 0
        /// By feed: 0 the main connection, n the nth further one.
        var feeds: [Int: Feed] = [0: Feed()]
        var session: CheckedContinuation<Handover, Never>?
        var failure: (any Error)?
        var ended = false
        var stripes: [any StripeConnection] = []
        var gapTimer: Task<Void, Never>?

        /// Whether `feed` may read its connection's next record now.
        func mayRead(_ feed: Int, capacity: Int) -> Bool {
            (feeds[feed]?.bytes ?? 0) == 0 || queuedBytes < capacity
        }

        /// Whether the next record can no longer come: every connection that may still carry
        /// one (the main connection and the further ones not ended) has queued a later record, and
        /// each carries its records in increasing order. The sender gives a record only to a
        /// connection that has joined, so no connection still to come can carry it.
        var isStuck: Bool {
            guard failure == nil, !ended, control.isEmpty, pending[next] == nil else { return false }
            return feeds.values.allSatisfy { $0.ended || $0.bytes > 0 }
        }

        /// What the waiting session can take now, if anything, and the feeds that may read again.
        mutating func takeReady(capacity: Int) -> (Handover, Readers)? {
            var taken = control
            control = []
            let first = next
            while let head = pending.removeValue(forKey: next) {
                taken.append(head)
                next += 1
            }
            if next != first {
                // The timer, if any, watched for the first of these.
                gapTimer?.cancel()
                gapTimer = nil
            }
            guard !taken.isEmpty else { return failure.map { (.failure($0), []) } }
            for queued in taken {
                feeds[queued.feed]?.bytes -= queued.size
                queuedBytes -= queued.size
            }
            var readers: Readers = []
            for (id, feed) in feeds {
                guard let waiting = feed.waiting, mayRead(id, capacity: capacity) else { continue }
                feeds[id]?.waiting = nil
                readers.append(waiting)
            }
            return (.records(taken.map(\.record)), readers)
        }

        /// Hands the waiting session, if any, what it can take now, if anything.
        mutating func wakeSession(capacity: Int) -> SessionWake? {
            guard let session, let (handover, readers) = takeReady(capacity: capacity) else { return nil }
            self.session = nil
            return (session, handover, readers)
        }

        /// Ends every feed's wait and drops what they queued.
        mutating func dropQueued() -> Readers {
            pending = [:]
            queuedBytes = 0
            var waiting: Readers = []
            for (id, feed) in feeds {
                if let continuation = feed.waiting { waiting.append(continuation) }
                feeds[id]?.waiting = nil
                feeds[id]?.bytes = 0
            }
            return waiting
        }
    }

    private let state = Mutex(State())
    private let mainFeed = Mutex<Task<Void, Never>?>(nil)
    /// Work that lives as long as the session, e.g. its connections waiting at a relay.
    private let helpers = Mutex<[Task<Void, Never>]>([])

    init(secret: StripeSecret = .random(), extra: Int, gapTimeout: Duration, capacity: Int = 1 << 20) {
        self.secret = secret
        self.extra = extra
        self.gapTimeout = gapTimeout
        self.capacity = capacity
    }

    // MARK: The session's side

    /// Starts reading the main connection, whose first record in SEQ, `first`, the session has
    /// already read.
    func start(main channel: some StripeConnection, first: Record) {
        let task = Task {
            do {
                try await deliver(first, from: 0)
                try await feed(channel, id: 0)
            } catch {
                fail(error)
            }
        }
        mainFeed.withLock { $0 = task }
    }

    /// The session's next records (at least one) in SEQ order, after any record of the main
    /// connection not in SEQ. Throws what ended a connection (a lost connection, a protocol error)
    /// or a gap, once the records before it are taken.
    func take() async throws -> [Record] {
        let capacity = capacity
        let handover: Handover = await withCheckedContinuation { continuation in
            let wake: SessionWake? = state.withLock { state in
                if let (handover, readers) = state.takeReady(capacity: capacity) { return (continuation, handover, readers) }
                state.session = continuation
                armGapTimer(&state)
                return nil
            }
            if let wake { Self.resume(wake) }
        }
        switch handover {
        case .records(let records): return records
        case .failure(let error): throw error
        }
    }

    /// Runs `work` until the session ends: ``end()`` cancels it and waits for it.
    func keep(_ work: @escaping @Sendable () async -> Void) {
        let task = Task { await work() }
        let ended = helpers.withLock { helpers in
            helpers.append(task)
            return state.withLock { $0.ended }
        }
        if ended { task.cancel() }
    }

    /// Ends the merger: feeds stop, the further connections close (the main one is the session's
    /// to close, before this). Returns once every feed it started has stopped.
    func end() async {
        let (stripes, waiting) = state.withLock { state in
            state.ended = true
            if state.failure == nil { state.failure = CancellationError() }
            state.gapTimer?.cancel()
            state.control = []
            return (state.stripes, state.dropQueued())
        }
        for feed in waiting { feed.resume(throwing: CancellationError()) }
        await withDiscardingTaskGroup { group in
            for stripe in stripes { group.addTask { await stripe.close() } }
        }
        await mainFeed.withLock { $0 }?.value
        for helper in helpers.withLock({ $0 }) {
            helper.cancel()
            await helper.value
        }
    }

    /// The session's connections so far: the main one and those that joined.
    var connections: Int { 1 + state.withLock { $0.stripes.count } }

    // MARK: The further connections' side

    /// Takes `connection` as a further connection of the session, if it has room for one more.
    func admit(_ connection: some StripeConnection) -> Bool {
        state.withLock { state in
            guard !state.ended, state.failure == nil, state.stripes.count < extra else { return false }
            state.stripes.append(connection)
            state.feeds[state.stripes.count] = Feed()
            return true
        }
    }

    /// Reads a connection admitted with ``admit(_:)`` until it ends: at its clean end of stream
    /// (the sender had nothing more for it), or with the session.
    func feedStripe(_ connection: some StripeConnection) async {
        guard let index = state.withLock({ $0.stripes.firstIndex { $0 === connection } }) else { return }
        do {
            try await feed(connection, id: index + 1)
        } catch {
            fail(error)
            return
        }
        // Its clean end: the sender had nothing more for it, or it ended the session and closed
        // its connections (its reset of a failed one may not arrive), which the others show.
        let stuck = state.withLock { state in
            state.feeds[index + 1]?.ended = true
            return state.isStuck
        }
        if stuck { failStuck() }
    }

    // MARK: Feeds

    /// Reads `connection` (feed `id`: 0 the main one) until its clean end of stream, which ends
    /// only a further connection; throws what ended it otherwise.
    private func feed(_ connection: some StripeConnection, id: Int) async throws {
        while true {
            let record: Record
            do {
                record = try await connection.receive()
            } catch PeerError.closed where id != 0 {
                return
            }
            switch record {
            case .keepalive:
                continue
            case .sequenced:
                try await deliver(record, from: id)
            default:
                // Only the main connection carries anything but SEQ; the session judges it.
                guard id == 0 else { throw PeerError.protocolError(.unexpectedRecord(record.type, phase: .transferring)) }
                try await deliver(record, from: id)
            }
        }
    }

    /// Queues `record` for the session, then waits while this feed may not read the next one.
    private func deliver(_ record: Record, from feed: Int) async throws {
        let capacity = capacity
        let queued = Queued(record: record, feed: feed, size: record.heldBytes)
        enum Step { case queued(mayRead: Bool), stuck, refused(any Error) }
        let (step, wake): (Step, SessionWake?) =
            state.withLock { state in
                if state.ended { return (.refused(CancellationError()), nil) }
                if let failure = state.failure { return (.refused(failure), nil) }
                if case .sequenced(let number, _) = record {
                    // Each number once, and none the session already has: anything else is the
                    // sender's error, which no later record can mend.
                    guard number >= state.next, state.pending[number] == nil else {
                        let error = PeerError.protocolError(.wrongSequence(expected: state.next, actual: number))
                        state.failure = error
                        return (.refused(error), nil)
                    }
                    state.pending[number] = queued
                } else {
                    state.control.append(queued)
                }
                state.feeds[feed, default: Feed()].bytes += queued.size
                state.queuedBytes += queued.size
                let wake = state.wakeSession(capacity: capacity)
                if wake == nil, state.session != nil { armGapTimer(&state) }
                if state.isStuck { return (.stuck, wake) }
                return (.queued(mayRead: state.mayRead(feed, capacity: capacity)), wake)
            }
        if let wake { Self.resume(wake) }
        switch step {
        case .queued(mayRead: true):
            return
        case .queued(mayRead: false):
            try await waitToRead(feed)
        case .stuck:
            failStuck()
            throw CancellationError()
        case .refused(let error):
            wakeSession()
            throw error
        }
    }

    /// Waits until feed `feed` may read again: the session took enough of what is queued.
    private func waitToRead(_ feed: Int) async throws {
        let capacity = capacity
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            enum Step { case read, parked, refused(any Error) }
            let step: Step = state.withLock { state in
                if state.ended { return .refused(CancellationError()) }
                if let failure = state.failure { return .refused(failure) }
                if state.mayRead(feed, capacity: capacity) { return .read }
                state.feeds[feed, default: Feed()].waiting = continuation
                return .parked
            }
            switch step {
            case .read: continuation.resume()
            case .parked: break
            case .refused(let error): continuation.resume(throwing: error)
            }
        }
    }

    /// Fails the session with `error` (the first failure wins) and wakes it.
    private func fail(_ error: any Error) {
        let waiting = state.withLock { state in
            if state.failure == nil, !state.ended { state.failure = error }
            return state.dropQueued()
        }
        for feed in waiting { feed.resume(throwing: CancellationError()) }
        wakeSession()
    }

    /// Fails the session whose next record no connection can carry any more (``State/isStuck``):
    /// at once, rather than after the gap timeout.
    private func failStuck() {
        let expected = state.withLock { $0.next }
        fail(PeerError.closed("record \(expected) of the striped session cannot come: every connection that could carry it has ended"))
    }

    private func wakeSession() {
        let capacity = capacity
        if let wake = state.withLock({ $0.wakeSession(capacity: capacity) }) { Self.resume(wake) }
    }

    /// Lets the feeds read again, then hands the session what it takes.
    private static func resume(_ wake: SessionWake) {
        for reader in wake.readers { reader.resume() }
        wake.session.resume(returning: wake.handover)
    }

    /// While the session waits and a later record than the next is queued, the next must come
    /// within ``gapTimeout``.
    private func armGapTimer(_ state: inout State) {
        guard state.gapTimer == nil, !state.pending.isEmpty else { return }
        let expected = state.next
        let timeout = gapTimeout
        state.gapTimer = Task { [weak self] in
            guard (try? await Task.sleep(for: timeout)) != nil, let self else { return }
            let stalled = self.state.withLock { state in
                state.gapTimer = nil
                return state.session != nil && state.next == expected && !state.pending.isEmpty
            }
            if stalled {
                self.fail(PeerError.closed("record \(expected) of the striped session did not come within \(timeout) while later ones had"))
            }
        }
    }
}
