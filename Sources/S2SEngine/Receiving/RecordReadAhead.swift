import S2SPeer
import S2SProtocol
import Synchronization

/// Reads one connection's records ahead of the session that takes them, in a task of its own: the
/// next frames are opened and decoded while the session writes and digests the last ones (on
/// another core, when there is one), instead of after them, and the session takes every record that
/// has arrived in one go rather than one hand-over per record.
///
/// Bounded: it stops reading while ``capacity`` bytes of records wait, so that a disk slower than
/// the link holds the sender back through TCP's flow control, as without it. It reads nothing after
/// a record that ends the sender's stream (DONE, CANCEL) or a failure, which it hands over after the
/// records before it, as the connection delivered them.
///
/// The reading task is the session's stand-in on the connection: cancelling the session's task
/// while it takes records cancels the reading too, as it would have cancelled its own read.
final class RecordReadAhead: Sendable {
    private struct State {
        var records: [Record] = []
        var bytes = 0
        var failure: (any Error)?
        var ended = false
        /// After ``stop(within:giveUp:)``: records are dropped as they come.
        var discarding = false
        var session: CheckedContinuation<Void, Never>?
        var reader: CheckedContinuation<Void, Never>?
    }

    /// The bytes of records that may wait for the session.
    let capacity: Int
    private let state = Mutex(State())
    private let task = Mutex<Task<Void, Never>?>(nil)

    /// Starts reading with `read` (the connection's `receive()`).
    init(capacity: Int = 1 << 20, read: @escaping @Sendable () async throws -> Record) {
        self.capacity = capacity
        let task = Task { [self] in
            while true {
                do {
                    let record = try await read()
                    guard await hold(record), !Self.endsStream(record) else { break }
                } catch {
                    wake { $0.failure = error }
                    return
                }
            }
            wake { $0.ended = true }
        }
        self.task.withLock { $0 = task }
    }

    /// The records that have arrived (at least one), in order; throws what ended the connection once
    /// the records before it are taken.
    func take() async throws -> [Record] {
        while true {
            if Task.isCancelled {
                cancelReading()
                throw CancellationError()
            }
            enum Step { case records([Record]), failed(any Error), wait }
            let (step, reader): (Step, CheckedContinuation<Void, Never>?) = state.withLock { state in
                if !state.records.isEmpty {
                    let records = state.records
                    state.records = []
                    state.bytes = 0
                    let reader = state.reader
                    state.reader = nil
                    return (.records(records), reader)
                }
                if let failure = state.failure { return (.failed(failure), nil) }
                if state.ended { return (.failed(PeerError.closed("no record after the end of the sender's stream")), nil) }
                return (.wait, nil)
            }
            reader?.resume()
            switch step {
            case .records(let records): return records
            case .failed(let error): throw error
            case .wait:
                await withTaskCancellationHandler {
                    await withCheckedContinuation { continuation in
                        let now = state.withLock { state in
                            guard state.records.isEmpty, state.failure == nil, !state.ended else { return true }
                            state.session = continuation
                            return false
                        }
                        if now { continuation.resume() }
                    }
                } onCancel: {
                    // The reading ends with the cancellation's error, which wakes the session.
                    cancelReading()
                }
            }
        }
    }

    /// Stops taking records for the session: what arrives is dropped while the reader goes on to the
    /// sender's end of stream (so that the connection's close finds nothing unread), for at most
    /// `patience`; then `giveUp` (which closes the connection) and the reader ends with it.
    func stop(within patience: Duration, giveUp: @escaping @Sendable () -> Void) async {
        wake { state in
            state.discarding = true
            state.records = []
            state.bytes = 0
        }
        guard let task = task.withLock({ $0 }) else { return }
        // A cancelled session does not drain: its reading ends now, as its own read would have.
        if Task.isCancelled { task.cancel() }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await task.value }
            group.addTask {
                guard (try? await Task.sleep(for: patience)) != nil else { return }
                giveUp()
            }
            // The first to end: the reading (the sleep is then cancelled) or the patience. The
            // group returns once the reading has ended either way.
            await group.next()
            group.cancelAll()
        }
    }

    private func cancelReading() {
        task.withLock { $0 }?.cancel()
    }

    /// Queues `record` for the session, waiting while the queue is full; false once stopped.
    private func hold(_ record: Record) async -> Bool {
        let size = record.heldBytes
        while true {
            enum Step { case held(CheckedContinuation<Void, Never>?), dropped, wait }
            let step: Step = state.withLock { state in
                if state.discarding { return .dropped }
                guard state.bytes == 0 || state.bytes + size <= capacity else { return .wait }
                state.records.append(record)
                state.bytes += size
                let session = state.session
                state.session = nil
                return .held(session)
            }
            switch step {
            case .held(let session):
                session?.resume()
                return true
            case .dropped:
                return !Self.endsStream(record)
            case .wait:
                await withCheckedContinuation { continuation in
                    let now = state.withLock { state in
                        guard !state.discarding, state.bytes > 0, state.bytes + size > capacity else { return true }
                        state.reader = continuation
                        return false
                    }
                    if now { continuation.resume() }
                }
            }
        }
    }

    /// Changes the state and wakes whoever waits.
    private func wake(_ change: (inout State) -> Void) {
        let (session, reader) = state.withLock { state in
            change(&state)
            defer {
                state.session = nil
                state.reader = nil
            }
            return (state.session, state.reader)
        }
        session?.resume()
        reader?.resume()
    }

    /// Whether the sender sends nothing after `record`.
    private static func endsStream(_ record: Record) -> Bool {
        switch record.unsequenced {
        case .done, .cancel: return true
        default: return false
        }
    }
}
