import NIOCore
import Synchronization

/// Which of a punch's attempts (TCP, SRT) won, on the side that does not choose (the receiver
/// of punch tickets): the first whose Noise handshake completed. The others stop trying then,
/// and a connection they open afterwards is closed: the sender has chosen another.
final class PunchSettlement: Sendable {
    private let settled = Mutex(false)

    func settle() { settled.withLock { $0 = true } }

    var isSettled: Bool { settled.withLock { $0 } }

    /// Runs `attempt` until it connects or another attempt settles the punch (then the attempt
    /// is cancelled, and this throws `CancellationError`).
    func unlessSettled(
        _ attempt: @escaping @Sendable () async throws -> NIOAsyncChannel<ByteBuffer, ByteBuffer>
    ) async throws -> NIOAsyncChannel<ByteBuffer, ByteBuffer> {
        let connection = try await withThrowingTaskGroup(of: NIOAsyncChannel<ByteBuffer, ByteBuffer>?.self) { group in
            group.addTask { try await attempt() }
            // Attempts last seconds: a tenth of a second's look is soon enough.
            group.addTask {
                while !self.isSettled { try await Task.sleep(for: .milliseconds(100)) }
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let connection = first else { throw CancellationError() }
            return connection
        }
        guard !isSettled else {
            await DirectPath.discard(connection)
            throw CancellationError()
        }
        return connection
    }
}
