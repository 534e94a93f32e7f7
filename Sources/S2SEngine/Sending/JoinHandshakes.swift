import Synchronization

/// The handshakes of a striped sender's further connections under way, so that no more than
/// ``atOnce`` run together: the receiver admits at most 8 unfinished handshakes from one address
/// (`HandshakeAdmission`, docs/security.md "Handshake floods") and drops the others, each a
/// connection lost to the transfer; `--streams 16` opened 15 at once.
///
/// The one task that opens the connections waits in ``waitForRoom()``; each connection's task
/// ends its handshake once, joined or failed (``Handshake/end()``), which wakes it. It never
/// waits for nothing: while it waits, handshakes run, and each ends.
final class JoinHandshakes: Sendable {
    /// Handshakes at once: under the receiver's 8, with room for another session from this host.
    static let atOnce = 6

    /// One connection's handshake, ended once whatever happens to the connection.
    final class Handshake: Sendable {
        private let owner: JoinHandshakes
        private let ended = Mutex(false)

        fileprivate init(owner: JoinHandshakes) {
            self.owner = owner
        }

        /// The handshake is over (the connection joined, or failed before). Idempotent.
        func end() {
            let first = ended.withLock { ended in
                defer { ended = true }
                return !ended
            }
            if first { owner.ended() }
        }
    }

    private struct State {
        var running = 0
        var waiting: CheckedContinuation<Void, Never>?
    }

    private let state = Mutex(State())

    /// Waits until fewer than ``atOnce`` handshakes run, then counts one more: the handshake of
    /// the connection about to be opened.
    func waitForRoom() async -> Handshake {
        while !state.withLock({ state in
            guard state.running < Self.atOnce else { return false }
            state.running += 1
            return true
        }) {
            await withCheckedContinuation { continuation in
                let roomNow = state.withLock { state in
                    guard state.running >= Self.atOnce else { return true }
                    state.waiting = continuation
                    return false
                }
                if roomNow { continuation.resume() }
            }
        }
        return Handshake(owner: self)
    }

    private func ended() {
        let waiting = state.withLock { state in
            state.running -= 1
            defer { state.waiting = nil }
            return state.waiting
        }
        waiting?.resume()
    }
}
