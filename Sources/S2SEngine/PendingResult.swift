import Synchronization

/// A result that another thread delivers once, and one task takes: looked at without waiting
/// (``isComplete``) or waited for (``value()``).
///
/// What a `UserWorker` job started without awaiting it hands back, so that its starter can go on
/// with other work and take the result when it needs it.
final class PendingResult<Value: Sendable>: Sendable {
    private enum State {
        case running
        case awaited(CheckedContinuation<Value, Never>)
        case complete(Value)
    }

    private let state = Mutex(State.running)

    /// Delivers the result, waking the task waiting for it. The first delivery counts.
    func complete(_ value: Value) {
        let waiting = state.withLock { state -> CheckedContinuation<Value, Never>? in
            switch state {
            case .running:
                state = .complete(value)
                return nil
            case .awaited(let continuation):
                state = .complete(value)
                return continuation
            case .complete:
                return nil
            }
        }
        waiting?.resume(returning: value)
    }

    /// Whether the result is there: ``value()`` would not wait.
    var isComplete: Bool {
        state.withLock { state in
            if case .complete = state { return true }
            return false
        }
    }

    /// The result, once delivered. One task waits at a time.
    func value() async -> Value {
        if case .complete(let value) = state.withLock({ $0 }) { return value }
        return await withCheckedContinuation { continuation in
            let ready = state.withLock { state -> Value? in
                switch state {
                case .running:
                    state = .awaited(continuation)
                    return nil
                case .complete(let value):
                    return value
                case .awaited:
                    preconditionFailure("PendingResult: a second task waits for the same result")
                }
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }
}
