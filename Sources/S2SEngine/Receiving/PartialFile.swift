import S2SProtocol
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// One file while it arrives, under an opaque name (its slot: stable across retries of the same
/// token, and not the entry's index in an offer) in the transfer's partial directory, with the
/// digest of every byte it holds.
///
/// Its life is one way: written in order → `finish` (digest matched; mode and mtime applied) →
/// `PartialArea.sync` (durable) → `PartialArea.publish` (renamed to its final name). Publishing
/// refuses a file that has not passed every step, so nothing unverified or not durable can
/// appear under a final name. Any failure on the way leaves it `failed`.
final class PartialFile: Sendable {
    /// Where the file is in its life.
    enum Phase: Sendable, Equatable {
        case writing, verified, durable, published, failed
    }

    private struct State: ~Copyable {
        /// -1 once closed.
        var fd: Int32
        var digest: FileDigest
        var length: UInt64
        var phase: Phase
    }

    /// The file's slot in the partial directory (the resume record's), which names it. It is not
    /// the entry's index in the offer: a retry may offer the same path at another index.
    let slot: UInt32
    /// Where the file is in the transfer's partial directory (its group and name), for messages.
    var name: String { PartialArea.displayName(index: slot) }
    private let state: Mutex<State>

    init(index: UInt32, fd: Int32, digest: consuming sending FileDigest, length: UInt64) {
        self.slot = index
        self.state = Mutex(State(fd: fd, digest: digest, length: length, phase: .writing))
    }

    deinit {
        closeDescriptor()
    }

    /// Open for reading and writing until ``closeDescriptor()`` or the object's end; -1 after.
    var fd: Int32 { state.withLock { $0.fd } }

    /// Closes the file's descriptor. A verified file that a `syncfs` will make durable needs only
    /// its name from then on (publishing renames it), so a batch of many such files holds no
    /// descriptor for each (`ReceiveBatch`).
    func closeDescriptor() {
        let fd = state.withLock { state in
            defer { state.fd = -1 }
            return state.fd
        }
        if fd >= 0 { close(fd) }
    }

    /// The bytes written so far (the resumed prefix included).
    var length: UInt64 { state.withLock { $0.length } }

    var phase: Phase { state.withLock { $0.phase } }

    /// Writes `bytes` at `offset`, which must be where the data so far ends (DATA is contiguous).
    func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws(ReceiveError) {
        try state.withLock { (state: inout State) throws(ReceiveError) in
            guard state.phase == .writing else { throw ReceiveError(.writeFailed, "partial file \(name) is no longer being written") }
            guard offset == state.length else {
                throw ReceiveError(.writeFailed, "data for partial file \(name) at \(offset), expected \(state.length)")
            }
            var done = 0
            while done < bytes.count {
                let written = CPUAccount.measure(.write, bytes: bytes.count - done) { pwrite(state.fd, bytes.baseAddress.map { $0 + done }, bytes.count - done, off_t(offset) + off_t(done)) }
                if written < 0 {
                    if errno == EINTR { continue }
                    let code = errno
                    state.phase = .failed
                    throw ReceiveError.system(code, "cannot write partial file \(name)")
                }
                guard written > 0 else {
                    state.phase = .failed
                    throw ReceiveError(.writeFailed, "cannot write partial file \(name): no progress")
                }
                done += written
            }
            state.digest.update(bytes)
            state.length += UInt64(bytes.count)
        }
    }

    /// Writes `bytes` at `offset`.
    func write(_ bytes: [UInt8], at offset: UInt64) throws(ReceiveError) {
        // `withUnsafeBytes` only rethrows untyped errors: carry the typed one out in a Result.
        let result = bytes.withUnsafeBytes { raw in Result { () throws(ReceiveError) in try write(raw, at: offset) } }
        try result.get()
    }

    /// The digest of the bytes so far.
    var digest: [UInt8] { state.withLock { $0.digest.finalize() } }

    /// Ends the data: the digest over every byte (resumed prefix included) must equal
    /// `expected`, and the file must hold exactly `size` bytes; then the mode
    /// (`ReceiveMode.file`) and mtime are applied. Returns the digest. A mismatch throws
    /// `.integrity` and the file can only be discarded.
    @discardableResult
    func finish(expected: [UInt8], size: UInt64, offeredMode: UInt16, mtime: ReceiveTime) throws(ReceiveError) -> [UInt8] {
        try state.withLock { (state: inout State) throws(ReceiveError) -> [UInt8] in
            guard state.phase == .writing else { throw ReceiveError(.writeFailed, "partial file \(name) was already finished") }
            guard state.length == size else {
                state.phase = .failed
                throw ReceiveError(.writeFailed, "partial file \(name) holds \(state.length) bytes, expected \(size)")
            }
            let actual = state.digest.finalize()
            guard actual == expected else {
                state.phase = .failed
                throw ReceiveError(.integrity, "digest mismatch for partial file \(name): received \(FileDigest.hex(actual)), sender said \(FileDigest.hex(expected))")
            }
            do throws(ReceiveError) {
                try Beneath.setAttributes(state.fd, mode: ReceiveMode.file(offered: offeredMode), mtime: mtime, what: "partial file \(name)")
            } catch {
                state.phase = .failed
                throw error
            }
            state.phase = .verified
            return actual
        }
    }

    /// Moves from `from` to `to`; false if the file was not in `from`.
    func advance(from: Phase, to: Phase) -> Bool {
        state.withLock { state in
            guard state.phase == from else { return false }
            state.phase = to
            return true
        }
    }

    /// Marks the file failed (its data is to be discarded).
    func fail() {
        state.withLock { $0.phase = .failed }
    }
}
