import Synchronization
@testable import S2SEngine

/// A clock that moves only when a test moves it: the engine's timers run on it exactly as on
/// the system clock, but a test decides when time passes, so it can assert exact instants and
/// never sleeps.
///
/// ``advance(by:)`` moves `now` and resumes every sleeper whose deadline has come, earliest
/// first (each resumed task then runs on as the scheduler lets it). ``sleepers(atLeast:)``
/// waits for the event that proves code under test is parked on the clock, and ``run(_:)``
/// drives a body to completion by jumping to each deadline as soon as something sleeps.
final class ManualClock: EngineClock {
    private struct Sleeper {
        let id: UInt64
        let deadline: ContinuousClock.Instant
        let continuation: CheckedContinuation<Void, any Error>
    }

    private struct Watcher {
        let id: UInt64
        let count: Int
        let continuation: CheckedContinuation<Void, Never>
    }

    private struct State {
        var now: ContinuousClock.Instant
        var sleepers: [Sleeper] = []
        var watchers: [Watcher] = []
        var lastID: UInt64 = 0

        mutating func nextID() -> UInt64 {
            lastID &+= 1
            return lastID
        }

        /// Removes and returns the watchers that the current number of sleepers satisfies.
        mutating func satisfiedWatchers() -> [CheckedContinuation<Void, Never>] {
            let count = sleepers.count
            let satisfied = watchers.filter { $0.count <= count }
            watchers.removeAll { $0.count <= count }
            return satisfied.map(\.continuation)
        }
    }

    private let state: Mutex<State>

    /// A clock whose `now` starts at `start` (any instant: only differences matter).
    init(start: ContinuousClock.Instant = .now) {
        state = Mutex(State(now: start))
    }

    var now: ContinuousClock.Instant { state.withLock { $0.now } }

    /// How many tasks sleep on this clock now.
    var sleeperCount: Int { state.withLock { $0.sleepers.count } }

    /// The earliest deadline of a sleeping task (nil: none sleeps).
    var nextDeadline: ContinuousClock.Instant? { state.withLock { $0.sleepers.map(\.deadline).min() } }

    func sleep(for duration: Duration) async throws {
        let id = state.withLock { $0.nextID() }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let (outcome, watchers) = state.withLock { state -> (Result<Void, any Error>?, [CheckedContinuation<Void, Never>]) in
                    // Checked under the lock: a cancellation after this finds the sleeper below.
                    if Task.isCancelled { return (.failure(CancellationError()), []) }
                    if duration <= .zero { return (.success(()), []) }
                    state.sleepers.append(Sleeper(id: id, deadline: state.now + duration, continuation: continuation))
                    return (nil, state.satisfiedWatchers())
                }
                for watcher in watchers { watcher.resume() }
                if let outcome { continuation.resume(with: outcome) }
            }
        } onCancel: {
            let sleeper = state.withLock { state -> Sleeper? in
                guard let index = state.sleepers.firstIndex(where: { $0.id == id }) else { return nil }
                return state.sleepers.remove(at: index)
            }
            sleeper?.continuation.resume(throwing: CancellationError())
        }
    }

    /// Moves `now` on by `duration` and resumes the sleepers that are due, earliest first.
    func advance(by duration: Duration) {
        let due = state.withLock { state -> [Sleeper] in
            state.now += duration
            let now = state.now
            let due = state.sleepers.filter { $0.deadline <= now }.sorted { $0.deadline < $1.deadline }
            state.sleepers.removeAll { $0.deadline <= now }
            return due
        }
        for sleeper in due { sleeper.continuation.resume() }
    }

    /// Returns once at least `count` tasks sleep on this clock, or when the task is cancelled.
    func sleepers(atLeast count: Int = 1) async {
        let id = state.withLock { $0.nextID() }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let ready = state.withLock { state -> Bool in
                    if state.sleepers.count >= count || Task.isCancelled { return true }
                    state.watchers.append(Watcher(id: id, count: count, continuation: continuation))
                    return false
                }
                if ready { continuation.resume() }
            }
        } onCancel: {
            let watcher = state.withLock { state -> Watcher? in
                guard let index = state.watchers.firstIndex(where: { $0.id == id }) else { return nil }
                return state.watchers.remove(at: index)
            }
            watcher?.continuation.resume()
        }
    }

    /// Runs `body` while moving time on to the earliest deadline whenever something sleeps, and
    /// returns what it returned: a body that sleeps 0.25 s and then 0.5 s returns with `now`
    /// exactly 0.75 s later, at once. Only time that code under test waits for passes.
    func run<T: Sendable>(_ body: () async throws -> T) async rethrows -> T {
        let driver = Task {
            while !Task.isCancelled {
                await sleepers(atLeast: 1)
                guard let deadline = nextDeadline else { continue }
                advance(by: max(.zero, deadline - now))
            }
        }
        defer { driver.cancel() }
        return try await body()
    }
}
