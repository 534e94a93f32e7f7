import Dispatch
import S2SLinux
import Synchronization

/// A thread of its own that acts as one user for file-system access, for the many small
/// operations of one transfer (opening each source, creating each partial file, publishing).
///
/// `UserContext.run` starts a thread per call, which is right for a one-off check but costs a
/// thread creation per file in a tree of ten thousand; a worker takes on the identity once and
/// then runs jobs in the order they were submitted. ``stop()`` ends the thread after the jobs
/// already submitted; jobs submitted later fail.
final class UserWorker: Sendable {
    let user: UserContext

    private struct Queue {
        var jobs: [@Sendable (EngineError?) -> Void] = []
        var stopped = false
    }

    /// Shared with the thread.
    private final class Shared: Sendable {
        let queue = Mutex(Queue())
        let available = DispatchSemaphore(value: 0)
    }

    private let shared = Shared()

    init(_ user: UserContext) throws(EngineError) {
        self.user = user
        let shared = self.shared
        let failure = DetachedThread.start {
            var failure: EngineError?
            do throws(EngineError) {
                try user.adopt()
            } catch {
                failure = error
            }
            while true {
                shared.available.wait()
                let next = shared.queue.withLock { state -> (@Sendable (EngineError?) -> Void)?? in
                    if !state.jobs.isEmpty { return .some(state.jobs.removeFirst()) }
                    return state.stopped ? .none : .some(nil)
                }
                guard case .some(let job) = next else { return }
                job?(failure)
            }
        }
        if let failure { throw .failed(failure) }
    }

    deinit {
        stop()
    }

    /// Runs `body` on the worker thread, as the user.
    func run<T: Sendable>(_ body: @escaping @Sendable () throws(EngineError) -> T) async throws(EngineError) -> T {
        try await perform(body, failure: { $0 }).get()
    }

    /// ``run(_:)`` for the receiving layer: a failure to act as the user becomes `.accessDenied`
    /// or `.writeFailed`.
    func receive<T: Sendable>(_ body: @escaping @Sendable () throws(ReceiveError) -> T) async throws(ReceiveError) -> T {
        try await perform(body, failure: receiveFailure).get()
    }

    /// ``receive(_:)`` without waiting: `body` starts on the worker thread after the jobs already
    /// submitted, and its result is taken from the handle returned (how a receiving session
    /// publishes one batch while it receives the next).
    func startReceiving<T: Sendable>(_ body: @escaping @Sendable () throws(ReceiveError) -> T) -> PendingResult<Result<T, ReceiveError>> {
        let pending = PendingResult<Result<T, ReceiveError>>()
        submit(body, failure: receiveFailure) { pending.complete($0) }
        return pending
    }

    private var receiveFailure: @Sendable (EngineError) -> ReceiveError {
        let uid = user.uid
        return { error in
            ReceiveError(error.kind == .accessDenied ? .accessDenied : .writeFailed, "cannot act as user \(uid): \(error.message)")
        }
    }

    private func perform<T: Sendable, E: Error>(
        _ body: @escaping @Sendable () throws(E) -> T, failure: @escaping @Sendable (EngineError) -> E
    ) async -> Result<T, E> {
        await withCheckedContinuation { continuation in
            submit(body, failure: failure) { continuation.resume(returning: $0) }
        }
    }

    /// Queues `body` for the thread; `deliver` gets its result there, or a failure at once if the
    /// worker has stopped.
    private func submit<T: Sendable, E: Error>(
        _ body: @escaping @Sendable () throws(E) -> T, failure: @escaping @Sendable (EngineError) -> E,
        deliver: @escaping @Sendable (Result<T, E>) -> Void
    ) {
        let job: @Sendable (EngineError?) -> Void = { identityFailure in
            if let identityFailure {
                deliver(.failure(failure(identityFailure)))
            } else {
                deliver(Result { () throws(E) -> T in try body() })
            }
        }
        let accepted = shared.queue.withLock { state in
            guard !state.stopped else { return false }
            state.jobs.append(job)
            return true
        }
        if accepted {
            shared.available.signal()
        } else {
            deliver(.failure(failure(.failed("the worker for user \(user.uid) has stopped"))))
        }
    }

    /// Ends the thread once the jobs already submitted have run. Idempotent.
    func stop() {
        let first = shared.queue.withLock { state in
            defer { state.stopped = true }
            return !state.stopped
        }
        if first { shared.available.signal() }
    }
}
