/// Which queued sends start now (docs/queue.md, "Scheduling"): the pure rule, apart from the
/// queue's state, so that it can be tested alone.
///
/// Candidates go by priority, higher first, then by number (first come, first served). One
/// starts if it is due, the total of active sends is under `maxActive`, its destination's is
/// under `maxPerDestination`, and no active send uses its token (the same sources to the same
/// destination run one at a time, so that the receiver sees one session per token).
enum SendScheduler {
    struct Candidate: Sendable, Equatable {
        let number: Int64
        let priority: Int32
        /// The endpoint ID the send goes to.
        let destination: String
        let tokenKey: [UInt8]
        /// Microseconds since the epoch; 0: at once.
        let notBefore: UInt64
    }

    /// The numbers to start now, in the order to start them.
    static func pick(
        _ candidates: [Candidate], active: [(destination: String, tokenKey: [UInt8])], maxActive: Int, maxPerDestination: Int,
        now: UInt64
    ) -> [Int64] {
        var total = active.count
        var perDestination: [String: Int] = [:]
        var tokens = Set<[UInt8]>()
        for running in active {
            perDestination[running.destination, default: 0] += 1
            tokens.insert(running.tokenKey)
        }
        var picked: [Int64] = []
        for candidate in ordered(candidates) {
            guard total < maxActive else { break }
            guard candidate.notBefore <= now, perDestination[candidate.destination, default: 0] < maxPerDestination,
                !tokens.contains(candidate.tokenKey)
            else { continue }
            picked.append(candidate.number)
            total += 1
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
