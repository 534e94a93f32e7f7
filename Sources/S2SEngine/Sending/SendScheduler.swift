/// Which queued sends start now (docs/queue.md, "Scheduling"): the pure rule, apart from the
/// queue's state, so that it can be tested alone.
///
/// Slots are shared fairly between users: each free slot goes to the user with the fewest sends
/// running (ties: the one whose best waiting send is oldest), and within that user's sends by
/// priority, higher first, then by number (first come, first served). Priority orders a user's
/// own sends only, so no user can jump ahead of another with it. One starts if it is due, the
/// total of active sends is under `maxActive`, its owner's under `maxPerUser` (so one user never
/// holds every slot), its destination's under `maxPerDestination`, and no active send uses its
/// token (the same sources to the same destination run one at a time, so that the receiver sees
/// one session per token). A user then waits for another's send at most one slot's turn.
enum SendScheduler {
    struct Candidate: Sendable, Equatable {
        let number: Int64
        let owner: UInt32
        let priority: Int32
        /// The endpoint ID the send goes to.
        let destination: String
        let tokenKey: [UInt8]
        /// Microseconds since the epoch; 0: at once.
        let notBefore: UInt64
    }

    /// A send that runs now.
    struct Running: Sendable, Equatable {
        let owner: UInt32
        let destination: String
        let tokenKey: [UInt8]
    }

    /// The limits the rule applies.
    struct Limits: Sendable, Equatable {
        var maxActive: Int
        var maxPerUser: Int
        var maxPerDestination: Int
    }

    /// The numbers to start now, in the order to start them.
    static func pick(_ candidates: [Candidate], active: [Running], limits: Limits, now: UInt64) -> [Int64] {
        var total = active.count
        var perUser: [UInt32: Int] = [:]
        var perDestination: [String: Int] = [:]
        var tokens = Set<[UInt8]>()
        for running in active {
            perUser[running.owner, default: 0] += 1
            perDestination[running.destination, default: 0] += 1
            tokens.insert(running.tokenKey)
        }
        var waiting = ordered(candidates.filter { $0.notBefore <= now })
        var picked: [Int64] = []
        while total < limits.maxActive {
            // Each user's best startable send (the ordered list puts it first).
            var best: [UInt32: Int] = [:]
            for (index, candidate) in waiting.enumerated() where best[candidate.owner] == nil {
                guard perUser[candidate.owner, default: 0] < limits.maxPerUser,
                    perDestination[candidate.destination, default: 0] < limits.maxPerDestination,
                    !tokens.contains(candidate.tokenKey)
                else { continue }
                best[candidate.owner] = index
            }
            let chosen = best.min { a, b in
                let (runningA, runningB) = (perUser[a.key, default: 0], perUser[b.key, default: 0])
                return runningA != runningB ? runningA < runningB : waiting[a.value].number < waiting[b.value].number
            }
            guard let (owner, index) = chosen else { break }
            let candidate = waiting.remove(at: index)
            picked.append(candidate.number)
            total += 1
            perUser[owner, default: 0] += 1
            perDestination[candidate.destination, default: 0] += 1
            tokens.insert(candidate.tokenKey)
        }
        return picked
    }

    /// Priority, higher first, then number.
    static func ordered(_ candidates: [Candidate]) -> [Candidate] {
        candidates.sorted { $0.priority != $1.priority ? $0.priority > $1.priority : $0.number < $1.number }
    }
}
