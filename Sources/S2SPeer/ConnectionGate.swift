import NIOCore
import Synchronization

/// The accepting side's bookkeeping, shared by the listener's child initializer (on the event
/// loops) and the accept loop: admission to the handshake (``HandshakeAdmission``), the
/// ``PeerServer/Statistics`` counters, and the connections still open, so that a stopping server
/// can close every one of them.
final class ConnectionGate: Sendable {
    private struct State {
        var admission: HandshakeAdmission
        var statistics = PeerServer.Statistics()
        var open: [ObjectIdentifier: any Channel] = [:]
        /// The origin of the admission's monotonic time.
        let start = ContinuousClock.now
        /// Set by ``closeAll()``: a connection the listener still hands over is refused.
        var stopped = false
    }

    let policy: HandshakeAdmission.Policy
    private let state: Mutex<State>

    init(policy: HandshakeAdmission.Policy) {
        self.policy = policy
        state = Mutex(State(admission: HandshakeAdmission(policy: policy)))
    }

    /// A snapshot of the counters.
    var statistics: PeerServer.Statistics {
        state.withLock { $0.statistics }
    }

    /// Decides on a freshly accepted `channel` (on its event loop, before it reads anything).
    /// Returns its ticket, or `nil` after starting to close a refused channel: with an RST
    /// (`SO_LINGER` 0), which costs the receiver no TIME_WAIT state under a flood and tells a
    /// sender "refused before reading" apart from the orderly close of an unknown endpoint.
    func admit(_ channel: any Channel) -> HandshakeTicket? {
        let source = HandshakeSource(channel.remoteAddress)
        var generator = SystemRandomNumberGenerator()
        let admitted = state.withLock { state in
            state.statistics.accepted += 1
            if state.stopped {
                state.statistics.failedHandshakes += 1
                return false
            }
            switch state.admission.admit(source, now: ContinuousClock.now - state.start, using: &generator) {
            case .admitted:
                state.statistics.activeConnections += 1
                state.statistics.handshaking += 1
                state.open[ObjectIdentifier(channel)] = channel
                return true
            case .refusedFull: state.statistics.refusedFull += 1
            case .refusedSourceLimit: state.statistics.refusedSourceLimit += 1
            case .refusedPenalty: state.statistics.refusedPenalty += 1
            case .refusedEarlyDrop: state.statistics.refusedEarlyDrop += 1
            }
            state.statistics.failedHandshakes += 1
            return false
        }
        guard admitted else {
            channel.closeWithReset()
            return nil
        }
        let ticket = HandshakeTicket(source: source) { [self] in
            state.withLock { state in
                state.admission.release(source)
                state.statistics.handshaking -= 1
            }
        }
        channel.closeFuture.whenComplete { [self] _ in
            ticket.finish()
            let unserved = ticket.releaseOnClose()
            state.withLock { state in
                state.open[ObjectIdentifier(channel)] = nil
                if unserved { state.statistics.activeConnections -= 1 }
            }
        }
        return ticket
    }

    /// Counts the end of a connection that a task served (``HandshakeTicket/claimForServing()``).
    func connectionEnded() {
        state.withLock { $0.statistics.activeConnections -= 1 }
    }

    /// Penalizes the source of a connection that ran out of time before finishing its handshake.
    func timedOut(_ source: HandshakeSource) {
        state.withLock { state in
            state.admission.penalize(source, now: ContinuousClock.now - state.start)
        }
    }

    /// Counts a handshake that failed after admission.
    func handshakeFailed() {
        state.withLock { $0.statistics.failedHandshakes += 1 }
    }

    /// Counts a session whose handler threw.
    func sessionFailed() {
        state.withLock { $0.statistics.failedSessions += 1 }
    }

    /// Closes every admitted connection still open, and refuses any that is accepted later (when
    /// the server stops: the listener may complete an accept while it closes).
    func closeAll() {
        let channels = state.withLock { state in
            state.stopped = true
            return Array(state.open.values)
        }
        for channel in channels { channel.close(promise: nil) }
    }
}
