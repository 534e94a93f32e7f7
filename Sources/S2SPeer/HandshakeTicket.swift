import Synchronization

/// The handshake slot of one admitted connection (``HandshakeAdmission``). It is given back
/// exactly once, by whichever comes first: the handshake completing, or the connection closing
/// on any path (failure, timeout, cancellation, shutdown, or a connection the accept loop never
/// got to serve).
final class HandshakeTicket: Sendable {
    private let done = Atomic<Bool>(false)
    private let onFinish: @Sendable () -> Void

    /// A ticket that runs `onFinish` when it is finished the first time.
    init(onFinish: @escaping @Sendable () -> Void) {
        self.onFinish = onFinish
    }

    /// Gives the slot back; later calls do nothing.
    func finish() {
        guard done.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged else {
            return
        }
        onFinish()
    }
}
