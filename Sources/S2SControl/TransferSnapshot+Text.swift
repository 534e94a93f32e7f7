import S2SClient
import S2SCore

/// How `s2sctl` describes a transfer in a few words (`transfers`, `watch`).
extension TransferSnapshot {
    /// Why a queued transfer waits, in a few words; nil if it does not.
    var waiting: String? {
        guard state.isWaiting else { return nil }
        if state == .paused { return "paused" }
        guard let lastError, attempts > 0 else { return "waiting for a free slot" }
        return "retry \(nextAttempt.map { "at \(Timestamp.rfc3339(microseconds: $0))" } ?? "soon") after \(lastError)"
    }

    /// What the transfer moves, in a few words: the destination or the endpoint.
    var summary: String {
        direction == .send
            ? "\(sources.count == 1 ? sources[0] : "\(sources.count) sources") → \(destination ?? "?")"
            : "into \(endpoint?.rawValue ?? "?")"
    }
}
