import NIOCore
import S2SProtocol
import Synchronization

/// Seals a connection's outgoing records into transport messages (`u16 length ‖ ciphertext ‖
/// tag`) on the thread that writes them, and queues the frames on the event loop in the order of
/// their nonces.
///
/// Sealing off the event loop lets the task that reads a file seal it too, on its own core, while
/// the event loop only moves frames into the socket. Every frame is sealed and queued (with
/// `execute`, first in first out) under one lock: the order on the wire is then the order of the
/// nonces, whichever task or timer writes. Nothing may write a record to the channel another way
/// once the transport phase has started.
final class FrameSealer: Sendable {
    private struct State {
        var cipher: CipherState
        /// Why sealing stopped: a nonce was spent on a frame that never left, so no later frame
        /// would open at the peer.
        var failure: NoiseError?
    }

    private let channel: any Channel
    private let state: Mutex<State>

    init(channel: any Channel, cipher: CipherState) {
        self.channel = channel
        self.state = Mutex(State(cipher: cipher))
    }

    /// Seals each of `plaintexts` (one record each) into a frame of its own, the frames back to
    /// back in one buffer, and queues it and a flush; the future completes once the socket has
    /// taken them all. The frames go into `frames`, which is cleared first: a caller that writes
    /// again and again reuses its buffers once the socket has taken what they held.
    func write(_ plaintexts: [ByteBuffer], into frames: inout ByteBuffer) -> EventLoopFuture<Void> {
        seal { (cipher: inout CipherState) throws(NoiseError) -> [ByteBuffer] in
            let lengths = plaintexts.map { cipher.ciphertextLength(forPlaintextLength: $0.readableBytes) }
            frames.clear(minimumCapacity: lengths.reduce(0) { $0 + Self.lengthPrefix + $1 })
            for (plaintext, length) in zip(plaintexts, lengths) {
                frames.writeInteger(UInt16(truncatingIfNeeded: length))
                let sealed: Result<Int, NoiseError> = plaintext.withUnsafeReadableBytes { bytes in
                    Result { () throws(NoiseError) in
                        try frames.writeWithUnsafeMutableBytes(minimumWritableBytes: length) { output throws(NoiseError) in
                            try cipher.encrypt(bytes, into: output)
                        }
                    }
                }
                _ = try sealed.get()
            }
            return [frames]
        }
    }

    /// ``write(_:into:)`` into a buffer of its own, allocated once at its size.
    func write(_ plaintexts: [ByteBuffer]) -> EventLoopFuture<Void> {
        var frames = channel.allocator.buffer(
            capacity: plaintexts.reduce(0) { $0 + Self.lengthPrefix + $1.readableBytes + NoiseCipher.tagLength })
        return write(plaintexts, into: &frames)
    }

    /// A frame's length field, before its ciphertext.
    private static let lengthPrefix = 2

    /// Seals the records of `batch` where they lie and queues them as one buffer, and a flush.
    func write(_ batch: inout DataRecordBatch) -> EventLoopFuture<Void> {
        seal { (cipher: inout CipherState) throws(NoiseError) -> [ByteBuffer] in [try batch.seal(with: &cipher)] }
    }

    /// Runs `body` with the cipher and queues the frames it returns, under the lock.
    private func seal(_ body: (inout CipherState) throws(NoiseError) -> [ByteBuffer]) -> EventLoopFuture<Void> {
        let channel = self.channel
        let loop = channel.eventLoop
        return state.withLock { state in
            if let failure = state.failure { return loop.makeFailedFuture(PeerError.noise(failure)) }
            let frames: [ByteBuffer]
            do throws(NoiseError) {
                frames = try body(&state.cipher)
            } catch {
                state.failure = error
                channel.close(promise: nil)
                return loop.makeFailedFuture(PeerError.noise(error))
            }
            let promise = loop.makePromise(of: Void.self)
            loop.execute {
                let writes = frames.map { channel.write($0) }
                channel.flush()
                EventLoopFuture.andAllSucceed(writes, on: loop).cascade(to: promise)
            }
            return promise.futureResult
        }
    }
}
