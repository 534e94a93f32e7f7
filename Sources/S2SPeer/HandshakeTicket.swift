import Synchronization

/// The handshake slot of one admitted connection (``HandshakeAdmission``). It is given back
/// exactly once, by whichever comes first: the handshake completing, or the connection closing
/// on any path (failure, timeout, cancellation, shutdown, or a connection the accept loop never
/// got to serve).
///
/// It also says who counts the connection's end in ``PeerServer/Statistics/activeConnections``:
/// the task that serves it, once that has recorded how it ended (so that a test waiting for no
/// active connection sees the errors too), or the close if no task got to serve it.
final class HandshakeTicket: Sendable {
    private let done = Atomic<Bool>(false)
    /// 0: not yet served; 1: a task serves it; 2: closed before any task served it.
    private let lease = Atomic<UInt8>(0)
    private let onFinish: @Sendable () -> Void
    /// Where the connection comes from.
    let source: HandshakeSource

    /// A ticket for a connection from `source` that runs `onFinish` when it is finished the first time.
    init(source: HandshakeSource, onFinish: @escaping @Sendable () -> Void) {
        self.source = source
        self.onFinish = onFinish
    }

    /// Gives the slot back; later calls do nothing.
    func finish() {
        guard done.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else {
            return
        }
        onFinish()
    }

    /// Called by the task that serves the connection, before it starts: `true` if that task is
    /// to count the connection's end, `false` if it closed already (and was counted then).
    func claimForServing() -> Bool {
        lease.compareExchange(expected: 0, desired: 1, ordering: .acquiringAndReleasing).exchanged
    }

    /// Called when the connection has closed: `true` if no task serves it, so the close is to be
    /// counted here.
    func releaseOnClose() -> Bool {
        lease.compareExchange(expected: 0, desired: 2, ordering: .acquiringAndReleasing).exchanged
    }
}
