import S2SPeer
import S2SProtocol
import Synchronization

/// The receiver's half of a striped session (docs/protocol.md, "Striped sessions"): reads every
/// connection of the session at once and hands the session its records in SEQ order, so that
/// everything after (the validator, the files, resume, quotas, progress) sees one connection's
/// stream.
///
/// Each connection is read by its own feed, which holds at most one record, its head: a feed
/// whose head is not next waits, and reads nothing more, until the session has taken it. So the
/// merger buffers no more than one record per connection; a connection that falls behind holds the
/// others back through TCP's flow control, not through memory here. A feed that waits while the
/// next record does not come for ``gapTimeout`` ends the session (a gap that no connection fills).
final class StripeMerger: Sendable {
    let secret: StripeSecret
    /// The further connections this session accepts (STRIPES' `extra`).
    let extra: Int
    /// How long the next record may be missing while another connection has a later one.
    let gapTimeout: Duration

    private enum Handover {
        case record(Record)
        case failure(any Error)
    }

    private struct State {
        var next: UInt64 = 0
        /// Feeds waiting to hand over a record, by its sequence number.
        var heads: [UInt64: (record: Record, feed: CheckedContinuation<Void, any Error>)] = [:]
        /// The main connection's records that are not in SEQ (CANCEL, or a broken sender's bare
        /// record, which the validator rejects), handed over before anything else.
        var control: (record: Record, feed: CheckedContinuation<Void, any Error>)?
        var session: CheckedContinuation<Handover, Never>?
        var failure: (any Error)?
        var ended = false
        var stripes: [SecureChannel] = []
        /// Further connections whose feed has ended (their clean end of stream).
        var endedStripes = 0
        var gapTimer: Task<Void, Never>?

        /// Whether the next record can no longer come: every connection that may still carry
        /// one (the main connection and the further ones not ended) holds a later record and
        /// reads nothing more until the session takes it. The sender gives a record only to a
        /// connection that has joined, so no connection still to come can carry the next one.
        var isStuck: Bool {
            guard failure == nil, !ended, control == nil, heads[next] == nil else { return false }
            return heads.count == 1 + stripes.count - endedStripes
        }

        /// What the waiting session can take now, if anything; wakes the feed it came from.
        mutating func takeReady() -> (Handover, CheckedContinuation<Void, any Error>?)? {
            if let control {
                self.control = nil
                return (.record(control.record), control.feed)
            }
            if let head = heads.removeValue(forKey: next) {
                next += 1
                // The timer, if any, watched for this record.
                gapTimer?.cancel()
                gapTimer = nil
                return (.record(head.record), head.feed)
            }
            if let failure { return (.failure(failure), nil) }
            return nil
        }
    }

    private let state = Mutex(State())
    private let mainFeed = Mutex<Task<Void, Never>?>(nil)
    /// Work that lives as long as the session, e.g. its connections waiting at a relay.
    private let helpers = Mutex<[Task<Void, Never>]>([])

    init(secret: StripeSecret = .random(), extra: Int, gapTimeout: Duration) {
        self.secret = secret
        self.extra = extra
        self.gapTimeout = gapTimeout
    }

    // MARK: The session's side

    /// Starts reading the main connection, whose first record in SEQ, `first`, the session has
    /// already read.
    func start(main channel: SecureChannel, first: Record) {
        let task = Task {
            do {
                try await deliver(first)
                try await feed(channel, isMain: true)
            } catch {
                fail(error)
            }
        }
        mainFeed.withLock { $0 = task }
    }

    /// The session's next record in SEQ order, or a record of the main connection not in SEQ.
    /// Throws what ended a connection (a lost connection, a protocol error) or a gap.
    func next() async throws -> Record {
        let handover: Handover = await withCheckedContinuation { continuation in
            let ready: (Handover, CheckedContinuation<Void, any Error>?)? = state.withLock { state in
                if let ready = state.takeReady() { return ready }
                state.session = continuation
                armGapTimer(&state)
                return nil
            }
            if let (handover, feed) = ready {
                feed?.resume()
                continuation.resume(returning: handover)
            }
        }
        switch handover {
        case .record(let record): return record
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
            let waiting = state.heads.values.map(\.feed) + (state.control.map { [$0.feed] } ?? [])
            state.heads = [:]
            state.control = nil
            return (state.stripes, waiting)
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

    /// Takes `channel` as a further connection of the session, if it has room for one more.
    func admit(_ channel: SecureChannel) -> Bool {
        state.withLock { state in
            guard !state.ended, state.failure == nil, state.stripes.count < extra else { return false }
            state.stripes.append(channel)
            return true
        }
    }

    /// Reads a connection admitted with ``admit(_:)`` until it ends: at its clean end of stream
    /// (the sender had nothing more for it), or with the session.
    func feedStripe(_ channel: SecureChannel) async {
        do {
            try await feed(channel, isMain: false)
        } catch {
            fail(error)
            return
        }
        // Its clean end: the sender had nothing more for it, or it ended the session and closed
        // its connections (its reset of a failed one may not arrive), which the others show.
        let stuck = state.withLock { state in
            state.endedStripes += 1
            return state.isStuck
        }
        if stuck { failStuck() }
    }

    // MARK: Feeds

    private func feed(_ channel: SecureChannel, isMain: Bool) async throws {
        while true {
            let record: Record
            do {
                record = try await channel.receive()
            } catch PeerError.closed where !isMain {
                return
            }
            switch record {
            case .keepalive:
                continue
            case .sequenced:
                try await deliver(record)
            default:
                // Only the main connection carries anything but SEQ; the session judges it.
                guard isMain else { throw PeerError.protocolError(.unexpectedRecord(record.type, phase: .transferring)) }
                try await deliver(record)
            }
        }
    }

    /// Hands `record` to the session, waiting until the session takes it.
    private func deliver(_ record: Record) async throws {
        try await withCheckedThrowingContinuation { (feed: CheckedContinuation<Void, any Error>) in
            enum Step { case handed(CheckedContinuation<Handover, Never>), parked, stuck, refused(any Error) }
            let step: Step = state.withLock { state in
                if state.ended { return .refused(CancellationError()) }
                if let failure = state.failure { return .refused(failure) }
                guard case .sequenced(let number, _) = record else {
                    if let session = state.session {
                        state.session = nil
                        return .handed(session)
                    }
                    state.control = (record, feed)
                    return .parked
                }
                // Each number once, and none the session already has: anything else is the
                // sender's error, which no later record can mend.
                guard number >= state.next, state.heads[number] == nil else {
                    let error = PeerError.protocolError(.wrongSequence(expected: state.next, actual: number))
                    state.failure = error
                    return .refused(error)
                }
                if number == state.next, let session = state.session {
                    state.session = nil
                    state.next += 1
                    state.gapTimer?.cancel()
                    state.gapTimer = nil
                    return .handed(session)
                }
                state.heads[number] = (record, feed)
                if state.session != nil { armGapTimer(&state) }
                return state.isStuck ? .stuck : .parked
            }
            switch step {
            case .handed(let session):
                feed.resume()
                session.resume(returning: .record(record))
            case .parked:
                break
            case .stuck:
                failStuck()
            case .refused(let error):
                feed.resume(throwing: error)
                wakeSession()
            }
        }
    }

    /// Fails the session with `error` (the first failure wins) and wakes it.
    private func fail(_ error: any Error) {
        let waiting = state.withLock { state in
            if state.failure == nil, !state.ended { state.failure = error }
            let waiting = state.heads.values.map(\.feed)
            state.heads = [:]
            return waiting
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
        let ready: (CheckedContinuation<Handover, Never>, Handover, CheckedContinuation<Void, any Error>?)? = state.withLock { state in
            guard let session = state.session, let (handover, feed) = state.takeReady() else { return nil }
            state.session = nil
            return (session, handover, feed)
        }
        if let (session, handover, feed) = ready {
            feed?.resume()
            session.resume(returning: handover)
        }
    }

    /// While the session waits and a feed holds a later record than the next, the next must come
    /// within ``gapTimeout``.
    private func armGapTimer(_ state: inout State) {
        guard state.gapTimer == nil, !state.heads.isEmpty else { return }
        let expected = state.next
        let timeout = gapTimeout
        state.gapTimer = Task { [weak self] in
            guard (try? await Task.sleep(for: timeout)) != nil, let self else { return }
            let stalled = self.state.withLock { state in
                state.gapTimer = nil
                return state.session != nil && state.next == expected && !state.heads.isEmpty
            }
            if stalled {
                self.fail(PeerError.closed("record \(expected) of the striped session did not come within \(timeout) while later ones had"))
            }
        }
    }
}
