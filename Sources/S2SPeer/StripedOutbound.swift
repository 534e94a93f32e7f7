public import NIOCore
import Synchronization

/// The sender's half of a striped session (docs/protocol.md, "Striped sessions"): the session's
/// records, already numbered in SEQ, wait here in their order, and each connection of the session
/// takes the next one whenever it has room to write. A connection that the path serves faster
/// takes more; each connection still carries its records in increasing order, which is all the
/// receiver needs to merge them back.
///
/// Bounded: ``enqueue(_:)`` waits while ``capacity`` bytes are queued. A connection that fails
/// ends the whole session (its records are lost; the sender's retry resumes from what the
/// receiver made durable).
public final class StripedOutbound: Sendable {
    private struct State {
        var queue: [ByteBuffer] = []
        var head = 0
        var queuedBytes = 0
        var finished = false
        var failure: PeerError?
        var producers: [CheckedContinuation<Void, Never>] = []
        var consumers: [CheckedContinuation<Void, Never>] = []

        var isEmpty: Bool { head == queue.count }

        mutating func pop() -> ByteBuffer? {
            guard !isEmpty else { return nil }
            let buffer = queue[head]
            head += 1
            if head == queue.count {
                queue.removeAll(keepingCapacity: true)
                head = 0
            }
            queuedBytes -= buffer.readableBytes
            return buffer
        }
    }

    /// Bytes of records that may wait for a connection.
    public let capacity: Int
    private let state = Mutex(State())

    public init(capacity: Int = 4 << 20) {
        self.capacity = capacity
    }

    /// Queues one record's plaintext, waiting while the queue is full. Throws once a connection
    /// failed.
    public func enqueue(_ plaintext: ByteBuffer) async throws(PeerError) {
        while true {
            enum Step { case queued, wait, failed(PeerError) }
            let (step, wake): (Step, [CheckedContinuation<Void, Never>]) = state.withLock { state in
                if let failure = state.failure { return (.failed(failure), []) }
                guard state.queuedBytes == 0 || state.queuedBytes + plaintext.readableBytes <= capacity else { return (.wait, []) }
                state.queue.append(plaintext)
                state.queuedBytes += plaintext.readableBytes
                let consumers = state.consumers
                state.consumers = []
                return (.queued, consumers)
            }
            for consumer in wake { consumer.resume() }
            switch step {
            case .queued: return
            case .failed(let error): throw error
            case .wait:
                await withCheckedContinuation { continuation in
                    let now = state.withLock { state in
                        if state.failure != nil || state.queuedBytes + plaintext.readableBytes <= capacity { return true }
                        state.producers.append(continuation)
                        return false
                    }
                    if now { continuation.resume() }
                }
            }
        }
    }

    /// Whether ``finish()`` or ``fail(_:)`` was called: no connection joins the session any more.
    public var isOver: Bool {
        state.withLock { $0.finished || $0.failure != nil }
    }

    /// No more records: the connections return from ``carry(on:)`` once the queue is empty.
    public func finish() {
        wakeAll { $0.finished = true }
    }

    /// Ends the session for every connection: queued records are dropped, waiting calls throw.
    public func fail(_ error: PeerError) {
        wakeAll { state in
            if state.failure == nil { state.failure = error }
            state.queue = []
            state.head = 0
            state.queuedBytes = 0
        }
    }

    /// Writes queued records to `channel`, each as soon as the channel has room for it, until
    /// ``finish()`` and an empty queue. A write that fails fails the whole session.
    public func carry(on channel: SecureChannel) async throws(PeerError) {
        let room = channel.peerHello.effectiveMaxRecordSize
        do {
            while true {
                // Take a record only when this connection can write it at once, so that none waits
                // behind a full connection while another could carry it.
                try await channel.waitForRoom(room)
                guard let next = try await take() else { return }
                try await channel.write(plaintext: next)
            }
        } catch {
            fail(error)
            throw error
        }
    }

    /// The next record; nil once finished and empty.
    private func take() async throws(PeerError) -> ByteBuffer? {
        while true {
            enum Step { case record(ByteBuffer), done, wait, failed(PeerError) }
            let (step, wake): (Step, [CheckedContinuation<Void, Never>]) = state.withLock { state in
                if let failure = state.failure { return (.failed(failure), []) }
                if let next = state.pop() {
                    let producers = state.producers
                    state.producers = []
                    return (.record(next), producers)
                }
                return (state.finished ? .done : .wait, [])
            }
            for producer in wake { producer.resume() }
            switch step {
            case .record(let buffer): return buffer
            case .done: return nil
            case .failed(let error): throw error
            case .wait:
                await withCheckedContinuation { continuation in
                    let now = state.withLock { state in
                        if state.failure != nil || state.finished || !state.isEmpty { return true }
                        state.consumers.append(continuation)
                        return false
                    }
                    if now { continuation.resume() }
                }
            }
        }
    }

    private func wakeAll(_ change: (inout State) -> Void) {
        let waiters = state.withLock { state in
            change(&state)
            let waiters = state.producers + state.consumers
            state.producers = []
            state.consumers = []
            return waiters
        }
        for waiter in waiters { waiter.resume() }
    }
}
