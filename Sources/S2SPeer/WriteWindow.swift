import NIOCore
import Synchronization

/// Bounds the bytes of records handed to the event loop that the socket has not taken yet.
///
/// A task that produces records (reading a file from the page cache) is far faster than the
/// event loop that seals them and the socket that drains them; NIO's channel writability is
/// learnt only on the event loop, so without this bound a sender queues hundreds of megabytes of
/// records before the first "not writable" arrives. Writers wait in ``acquire(_:)`` while the
/// window is full; each write's completion frees its share.
final class WriteWindow: Sendable {
    private struct State {
        var inFlight = 0
        var waiters: [CheckedContinuation<Void, Never>] = []
        /// Why a write failed: every later write fails the same way.
        var failure: String?

        /// Whether `count` more bytes fit under `limit`; a write alone is always admitted.
        func admits(_ count: Int, limit: Int) -> Bool {
            inFlight == 0 || inFlight + count <= limit
        }
    }

    /// Bytes that may be in flight; one write larger than this is admitted alone.
    let limit: Int
    private let state = Mutex(State())

    init(limit: Int) {
        self.limit = limit
    }

    /// Takes `count` bytes of the window, waiting while it is full. Throws once a write failed.
    func acquire(_ count: Int) async throws(PeerError) {
        while true {
            enum Step { case admitted, wait, failed(String) }
            let step: Step = state.withLock { state in
                if let failure = state.failure { return .failed(failure) }
                guard state.admits(count, limit: limit) else { return .wait }
                state.inFlight += count
                return .admitted
            }
            switch step {
            case .admitted: return
            case .failed(let reason): throw .closed(reason)
            case .wait:
                await withCheckedContinuation { continuation in
                    let resumeNow = state.withLock { state in
                        // Freed (or failed) between the check and here: look again at once.
                        if state.failure != nil || state.admits(count, limit: limit) { return true }
                        state.waiters.append(continuation)
                        return false
                    }
                    if resumeNow { continuation.resume() }
                }
            }
        }
    }

    /// The bytes a write would be admitted with now, without waiting (at least the whole window
    /// when nothing is in flight).
    var room: Int {
        state.withLock { state in state.inFlight == 0 ? limit : max(0, limit - state.inFlight) }
    }

    /// Waits until `count` bytes would be admitted (or a write failed, which throws).
    func waitForRoom(_ count: Int) async throws(PeerError) {
        try await acquire(count)
        release(count, failure: nil)
    }

    /// Takes `count` bytes of the window (waiting while it is full), then starts the write that
    /// `submit` queues; the bytes are given back when that write completes. A write that fails
    /// fails every later one with its reason.
    func write(_ count: Int, _ submit: () -> EventLoopFuture<Void>) async throws(PeerError) {
        try await acquire(count)
        submit().whenComplete { result in
            if case .failure(let error) = result {
                self.release(count, failure: "while sending: \(NetworkErrorText.describe(error))")
            } else {
                self.release(count, failure: nil)
            }
        }
    }

    /// Gives back `count` bytes; wakes the writers waiting for room.
    private func release(_ count: Int, failure: String?) {
        let waiters = state.withLock { state in
            state.inFlight -= count
            if let failure, state.failure == nil { state.failure = failure }
            let waiters = state.waiters
            state.waiters = []
            return waiters
        }
        for waiter in waiters { waiter.resume() }
    }
}
