public import Crypto
public import NIOCore
public import S2SProtocol

/// One end of a session after the Noise handshake (docs/protocol.md): sends and receives records,
/// each sealed in one Noise transport message, over a byte stream.
///
/// A `SecureChannel` exists only inside the closure of ``connect(to:endpointKey:hello:limits:group:_:)``
/// (sender) or ``accept(_:lookup:hello:limits:onHandshake:_:)`` (receiver): when the closure returns
/// or throws, the connection is closed (the structured use of `NIOAsyncChannel.executeThenClose`).
///
/// Sending and receiving may run in different tasks at once: each send is sealed by the task that
/// sends and queued on the event loop in nonce order (``FrameSealer``), so any number of tasks may
/// send; only one task may wait in ``receive()`` at a time. The pipeline enforces the handshake
/// and idle timeouts and sends KEEPALIVE when this side has been quiet for the keepalive interval.
public actor SecureChannel {
    /// The HELLO the peer sent in the handshake.
    public nonisolated let peerHello: Hello
    /// The HELLO this side sent.
    public nonisolated let hello: Hello
    /// This side's limits (what it accepts, and its timeouts).
    public nonisolated let limits: ProtocolLimits
    /// The transport's cipher: the one the preamble announced (``announcedCipher``), or AES-GCM
    /// after a ChaChaPoly handshake whose HELLOs both asked for it (`Hello.Feature.aesGCMTransport`).
    public nonisolated let cipher: NoiseCipher
    /// The cipher the preamble announced, which the handshake used.
    public nonisolated let announcedCipher: NoiseCipher
    /// The receiver's endpoint public key: on the sender side the one it connected to, on the
    /// receiver side the one the preamble selected.
    public nonisolated(unsafe) let endpointKey: Curve25519.KeyAgreement.PublicKey
    // nonisolated(unsafe): swift-crypto 3.12 does not mark its key types Sendable, but they are
    // immutable, so sharing this `let` between isolation domains is safe.

    /// The address of the peer, if the transport has one.
    public nonisolated let remoteAddress: SocketAddress?

    private nonisolated let channel: any Channel
    private nonisolated let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    private nonisolated let frames: InboundFrames
    private nonisolated let sealer: FrameSealer
    private nonisolated let window = WriteWindow(limit: SecureChannel.writeWindow)
    private var receiveCipher: CipherState
    private var receiving = false
    private var isClosed = false

    /// The bytes of records written but not yet taken by the socket before a send waits: 32 full
    /// DATA records, enough to keep the event loop busy while the sending task reads the next chunk.
    public static let writeWindow = 2 << 20

    /// How long ``close()`` waits for the peer's end of stream after half-closing.
    public static let drainTimeout: Duration = .seconds(2)

    init(
        channel: any Channel,
        frames: InboundFrames,
        outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>,
        sealer: FrameSealer,
        receiveCipher: CipherState,
        peerHello: Hello,
        hello: Hello,
        limits: ProtocolLimits,
        endpointKey: Curve25519.KeyAgreement.PublicKey,
        cipher: NoiseCipher
    ) {
        self.hello = hello
        self.cipher = receiveCipher.cipher
        self.announcedCipher = cipher
        self.channel = channel
        self.remoteAddress = channel.remoteAddress
        self.frames = frames
        self.outbound = outbound
        self.sealer = sealer
        self.receiveCipher = receiveCipher
        self.peerHello = peerHello
        self.limits = limits
        self.endpointKey = endpointKey
    }

    /// Both sides asked for a direct path in their HELLOs (``Hello/Feature/direct``): the receiver
    /// sends CANDIDATES first (docs/protocol.md, "Relay to direct").
    public nonisolated var directAgreed: Bool {
        hello.has(Hello.Feature.direct) && peerHello.has(Hello.Feature.direct)
    }

    /// The most data bytes one DATA record may carry to this peer.
    public nonisolated var maxDataLength: Int {
        Record.maxDataLength(maxRecordSize: peerHello.effectiveMaxRecordSize)
    }

    // MARK: Sending

    /// Sends one record. Throws ``PeerError/recordTooLarge(size:limit:)`` for a record above the
    /// peer's advertised maximum, ``PeerError/closed(_:)`` once the connection is gone.
    public nonisolated func send(_ record: Record) async throws(PeerError) {
        try await write(plaintext(record))
    }

    /// Sends a DATA record for `entry` at `offset` carrying `bytes` (1 ... ``maxDataLength``), copying
    /// the data once, straight into the buffer that is sealed; no `Record` is built.
    public nonisolated func sendData(entry: UInt32, offset: UInt64, bytes: UnsafeRawBufferPointer) async throws(PeerError) {
        try await write(dataRecord(entry: entry, offset: offset, bytes: bytes))
    }

    /// ``sendData(entry:offset:bytes:)`` for bytes held in an array slice.
    public nonisolated func sendData(entry: UInt32, offset: UInt64, bytes: ArraySlice<UInt8>) async throws(PeerError) {
        let record = bytes.withUnsafeBytes { raw in
            Result { () throws(PeerError) in try dataRecord(entry: entry, offset: offset, bytes: raw) }
        }
        try await write(record.get())
    }

    /// The plaintext of a DATA record for `entry` at `offset` carrying `bytes` (1 ...
    /// ``maxDataLength``), for ``write(plaintexts:into:)``.
    public nonisolated func dataPlaintext(entry: UInt32, offset: UInt64, bytes: UnsafeRawBufferPointer) throws(PeerError) -> ByteBuffer {
        try dataRecord(entry: entry, offset: offset, bytes: bytes)
    }

    /// The most data bytes one DATA record inside SEQ may carry to this peer.
    public nonisolated var maxSequencedDataLength: Int {
        maxDataLength - Record.sequenceHeaderLength
    }

    /// The plaintext of `record`, checked against the peer's maximum record.
    public nonisolated func plaintext(_ record: Record) throws(PeerError) -> ByteBuffer {
        let size = record.encodedLength
        let limit = peerHello.effectiveMaxRecordSize
        guard size <= limit else { throw .recordTooLarge(size: size, limit: limit) }
        var bytes: [UInt8] = []
        record.encode(into: &bytes)
        return channel.allocator.buffer(bytes: bytes)
    }

    /// Writes a record's plaintext built by ``plaintext(_:)`` or taken from a
    /// ``DataRecordBatch`` (of this or another connection of the session: the peer's HELLO is
    /// the same).
    public nonisolated func write(plaintext: ByteBuffer) async throws(PeerError) {
        try await write(plaintext)
    }

    /// Writes records' plaintexts (as ``write(plaintext:)`` takes them), sealed one after the
    /// other into `frames` (cleared first; reused once the socket has taken what it held), which
    /// goes to the event loop in one hop and one flush.
    public nonisolated func write(plaintexts: [ByteBuffer], into frames: inout ByteBuffer) async throws(PeerError) {
        try await window.write(plaintexts.reduce(0) { $0 + $1.readableBytes }) { sealer.write(plaintexts, into: &frames) }
    }

    /// Writes the records of `batch` (``dataRecordBatch(bytes:sequenced:)``'s, headers written,
    /// no record taken), sealed where they lie and handed to the event loop as one buffer.
    public nonisolated func write(_ batch: inout DataRecordBatch) async throws(PeerError) {
        try await window.write(batch.recordBytes) { sealer.write(&batch) }
    }

    /// Waits until a record of `count` bytes can be written without waiting.
    public nonisolated func waitForRoom(_ count: Int) async throws(PeerError) {
        try await window.waitForRoom(count)
    }

    /// The bytes of records that can be written now without waiting.
    public nonisolated var writeRoom: Int { window.room }

    /// A batch of DATA records for `bytes` bytes of one file, each record as large as this peer
    /// takes (inside SEQ when `sequenced`).
    public nonisolated func dataRecordBatch(bytes: Int, sequenced: Bool) -> DataRecordBatch {
        DataRecordBatch(
            allocator: channel.allocator, bytes: bytes, chunk: sequenced ? maxSequencedDataLength : maxDataLength, sequenced: sequenced)
    }

    /// The plaintext of a DATA record, checked against the empty and the peer's maximum record.
    private nonisolated func dataRecord(entry: UInt32, offset: UInt64, bytes: UnsafeRawBufferPointer) throws(PeerError) -> ByteBuffer {
        guard !bytes.isEmpty else { throw .protocolError(.emptyData) }
        let size = Record.dataHeaderLength + bytes.count
        let limit = peerHello.effectiveMaxRecordSize
        guard size <= limit else { throw .recordTooLarge(size: size, limit: limit) }
        var buffer = channel.allocator.buffer(capacity: size)
        buffer.writeInteger(RecordType.data.rawValue)
        buffer.writeInteger(entry)
        buffer.writeInteger(offset)
        buffer.writeBytes(bytes)
        return buffer
    }

    /// Records go straight to the channel, within ``writeWindow``: the outbound writer carries
    /// only the handshake and the half-close, which are ordered before and after these writes
    /// because every one of them is queued on the same event loop in program order.
    private nonisolated func write(_ plaintext: ByteBuffer) async throws(PeerError) {
        try await window.write(plaintext.readableBytes) { sealer.write([plaintext]) }
    }

    // MARK: Receiving

    /// Waits for the next record, decrypts and decodes it with ``limits``. KEEPALIVE records are
    /// returned too (they carry nothing; the idle timer was reset when their frame arrived).
    ///
    /// A frame that fails to authenticate closes the connection at once and throws
    /// ``PeerError/noise(_:)``; a record that does not decode throws
    /// ``PeerError/protocolError(_:)`` and leaves the connection open, so that the caller can
    /// answer REFUSE or CANCEL before ``close()``. Timeouts and framing errors arrive as the
    /// ``PeerError`` the pipeline reported, the peer's end of stream as ``PeerError/closed(_:)``.
    public func receive() async throws(PeerError) -> Record {
        guard !isClosed else { throw .closed("receive() after close()") }
        let frame = try await nextFrame()
        // The smallest transport message is a 1-byte record and its tag (docs/protocol.md,
        // "Transport messages"): anything shorter is malformed, not a failed decryption.
        guard frame.readableBytes > ProtocolLimits.tagLength else {
            throw .malformedFrame("frame of \(frame.readableBytes) bytes, shorter than the smallest record")
        }
        let opened: Result<[UInt8], NoiseError> = frame.withUnsafeReadableBytes { ciphertext in
            Result { () throws(NoiseError) in try receiveCipher.decrypt(ciphertext) }
        }
        let plaintext: [UInt8]
        switch opened {
        case .success(let bytes):
            plaintext = bytes
        case .failure(let error):
            abort()
            throw .noise(error)
        }
        do {
            return try Record.decode(plaintext[...], limits: limits)
        } catch {
            throw .protocolError(error)
        }
    }

    /// The next unit from the pipeline (preamble or frame), with the stream's errors as ``PeerError``.
    private func nextFrame() async throws(PeerError) -> ByteBuffer {
        guard !receiving else { throw .concurrentReceive }
        receiving = true
        defer { receiving = false }
        let frame: ByteBuffer?
        do {
            frame = try await frames.next()
        } catch {
            throw Self.peerError(error, context: "while receiving")
        }
        guard let frame else { throw .closed("the peer closed the connection") }
        return frame
    }

    /// What the kernel says of the connection's path (`TCP_INFO`), read before closing it; nil
    /// when it is not a TCP connection or the kernel does not answer.
    public nonisolated func pathReport() async -> TCPPathReport? {
        await TCPPathReport.read(channel)
    }

    // MARK: Closing

    /// Half-closes this direction once everything written is out, and nothing more: ``receive()``
    /// goes on reading what the peer still sends, up to its end of stream. Tells the peer at once,
    /// and reliably, that this side has ended the session, while this side may still learn why the
    /// peer ended it (a CANCEL already on its way).
    public func finishSending() {
        outbound.finish()
    }

    /// Ends the session as docs/protocol.md ("Closing a connection") says: stops sending,
    /// half-closes this direction once everything written is out, reads and discards what still
    /// arrives until the peer's end of stream or for at most ``drainTimeout``, then closes.
    /// If another task is waiting in ``receive()``, that task receives what is left (it is then
    /// told of the end of stream) and the connection closes at the latest after ``drainTimeout``.
    /// Returns once the connection is closed, also when another task started the close.
    /// Never throws.
    public func close() async {
        let channel = self.channel
        // A close already under way, or another task waiting in receive() (which does the
        // draining: it sees the peer's end of stream, or the deadline's close): wait for the end.
        guard !isClosed else {
            try? await channel.closeFuture.get()
            return
        }
        isClosed = true
        outbound.finish()
        let deadline = channel.eventLoop.scheduleTask(in: TimeAmount(Self.drainTimeout)) {
            channel.close(promise: nil)
        }
        guard !receiving else {
            try? await channel.closeFuture.get()
            return
        }
        receiving = true
        while true {
            do {
                guard try await frames.next() != nil else { break }
            } catch {
                break
            }
        }
        receiving = false
        deadline.cancel()
        try? await channel.close().get()
    }

    /// Closes the connection at once, without a word (for a message that failed to decrypt, or an
    /// error after which nothing more may be sent).
    public nonisolated func abort() {
        channel.close(promise: nil)
    }

    // MARK: Errors

    /// Maps what a NIO stream or future threw to a ``PeerError``.
    static func peerError(_ error: any Error, context: String) -> PeerError {
        if let error = error as? PeerError { return error }
        if let error = error as? ChannelError {
            switch error {
            case .connectTimeout: return .timeout(.handshake)
            default: return .closed("\(context): \(error)")
            }
        }
        return .closed("\(context): \(NetworkErrorText.describe(error))")
    }
}
