import Synchronization

/// Wakes a background loop that sleeps until a deadline or until something changed, whichever
/// comes first: the daemon's loops sleep instead of polling, so an idle daemon stays asleep.
///
/// A ring is kept until the next wait, so none is lost between a loop's look at its state and its
/// wait. One loop waits on a doorbell; anyone may ring it. (An `AsyncStream` raced against a timer
/// does not do this job: cancelling a pending `next()` finishes the stream for good, and every
/// later wait returns at once, a loop that spins.)
final class Doorbell: Sendable {
    private struct State {
        var rung = false
        var waiter: (id: UInt64, continuation: CheckedContinuation<Void, Never>)?
        var lastID: UInt64 = 0
    }

    private let state = Mutex(State())
    /// What a wait's deadline is measured on.
    let clock: any EngineClock

    init(clock: any EngineClock = SystemClock()) {
        self.clock = clock
    }

    /// Whether a loop is waiting for a ring now (not merely for its deadline): lets a test know
    /// that a ring or a cancellation reaches a parked waiter.
    var hasWaiter: Bool { state.withLock { $0.waiter != nil } }

    /// Wakes the waiting loop, or the next wait if none is waiting.
    func ring() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard let waiter = state.waiter else {
                state.rung = true
                return nil
            }
            state.waiter = nil
            return waiter.continuation
        }
        waiter?.resume()
    }

    /// Returns once the doorbell rings (at once if it rang since the last wait returned), after
    /// `delay` on ``clock`` (nil: no deadline), or when the task is cancelled.
    func wait(upTo delay: Duration?) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.waitForRing() }
            if let delay {
                group.addTask { try? await self.clock.sleep(for: delay) }
            }
            await group.next()
            group.cancelAll()
        }
    }

    private func waitForRing() async {
        let id = state.withLock { state in
            state.lastID &+= 1
            return state.lastID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let now = state.withLock { state -> Bool in
                    if state.rung {
                        state.rung = false
                        return true
                    }
                    // Checked under the lock: a cancellation after this finds the waiter below.
                    if Task.isCancelled { return true }
                    state.waiter = (id, continuation)
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
                guard let waiter = state.waiter, waiter.id == id else { return nil }
                state.waiter = nil
                return waiter.continuation
            }
            waiter?.resume()
        }
    }
}
