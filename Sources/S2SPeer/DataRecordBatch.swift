public import NIOCore
import S2SProtocol
#if canImport(Glibc)
import Glibc
#endif

/// DATA records for one read of a file, laid out in one buffer as the frames they become: for each
/// record room for the frame's length, the record's header, room for its data, room for the AEAD
/// tag. One `preadv` reads the file straight into the records (no copy between a read buffer and
/// the records); then either the records are sealed where they lie and the frames leave as one
/// buffer (``seal(with:)``: one connection), or each record leaves as a slice (``record(_:)``: a
/// striped session, where the connection that takes a record seals it).
///
/// The headers are written after the read (``writeHeaders(entry:offset:sequences:)``), once
/// it is known how many records the data fills, and before any record is taken: a slice shares
/// the buffer, so writing into it afterwards would copy the whole of it.
///
/// A batch is read into again and again (a sender keeps a few and takes them in turn): a read
/// reuses the buffer once nothing holds its frames or records any more (they have left through
/// the socket), and takes a fresh one only while they are still in flight. A fresh MiB costs a
/// page fault per page on its first write.
public struct DataRecordBatch {
    /// Each record's header: DATA's (type, entry, offset), after SEQ's (type, sequence) in a
    /// striped session.
    public let headerLength: Int
    /// The most data bytes per record.
    public let chunk: Int
    /// The most records the batch has room for, and the most file bytes one read takes.
    private let records: Int
    private let capacity: Int
    /// One record's room: frame length, header, data, tag.
    private let region: Int
    private var buffer: ByteBuffer
    /// The data bytes each record got, in order; empty until a read.
    public private(set) var lengths: [Int] = []

    init(allocator: ByteBufferAllocator, bytes: Int, chunk: Int, sequenced: Bool) {
        self.headerLength = (sequenced ? Record.sequenceHeaderLength : 0) + Record.dataHeaderLength
        self.chunk = chunk
        self.records = (bytes + chunk - 1) / chunk
        self.capacity = bytes
        self.region = Self.lengthPrefix + headerLength + chunk + ProtocolLimits.tagLength
        buffer = allocator.buffer(capacity: records * region)
    }

    /// The frame's length field before each record.
    private static let lengthPrefix = 2

    /// Where record `index`'s plaintext (header, then data) starts.
    private func start(of index: Int) -> Int {
        index * region + Self.lengthPrefix
    }

    /// Reads up to `bytes` (at most ``capacity``) of `fd` at `offset` into the records, with one
    /// `preadv`; returns what `preadv` returned (-1 with `errno` set on failure). A short read
    /// fills the first records only.
    public mutating func read(from fd: CInt, at offset: UInt64, bytes: Int? = nil) -> Int {
        let bytes = min(bytes ?? capacity, capacity)
        let records = (bytes + chunk - 1) / chunk
        let (headerLength, chunk, region) = (headerLength, chunk, region)
        let dataStart = Self.lengthPrefix + headerLength
        var result = 0
        buffer.clear()
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: records * region) { raw in
            guard let base = raw.baseAddress else {
                result = -1
                return 0
            }
            var vectors = (0..<records).map { index in
                iovec(iov_base: base + index * region + dataStart, iov_len: min(chunk, bytes - index * chunk))
            }
            result = preadv(fd, &vectors, Int32(records), off_t(offset))
            return result > 0 ? records * region : 0
        }
        lengths = result > 0 ? (0..<records).map { max(0, min(chunk, result - $0 * chunk)) }.filter { $0 > 0 } : []
        return result
    }

    /// The bytes of the records read, headers included.
    public var recordBytes: Int {
        lengths.reduce(lengths.count * headerLength, +)
    }

    /// Each record's data, in order, while the buffer is held.
    public func forEachPayload(_ body: (UnsafeRawBufferPointer) -> Void) {
        buffer.withUnsafeReadableBytes { raw in
            for (index, length) in lengths.enumerated() {
                let data = start(of: index) + headerLength
                body(UnsafeRawBufferPointer(rebasing: raw[data..<(data + length)]))
            }
        }
    }

    /// Writes the records' headers: entry `entry`, the data's offsets from `offset`, and in a
    /// striped session one sequence number per record (`sequences`, as many as ``lengths``).
    public mutating func writeHeaders(entry: UInt32, offset: UInt64, sequences: [UInt64]?) {
        for index in lengths.indices {
            var at = start(of: index)
            if let sequences {
                at += buffer.setInteger(RecordType.sequenced.rawValue, at: at)
                at += buffer.setInteger(sequences[index], at: at)
            }
            at += buffer.setInteger(RecordType.data.rawValue, at: at)
            at += buffer.setInteger(entry, at: at)
            buffer.setInteger(offset + UInt64(index * chunk), at: at)
        }
    }

    /// Record `index`'s plaintext: a slice of the batch's buffer.
    public func record(_ index: Int) -> ByteBuffer {
        buffer.getSlice(at: start(of: index), length: headerLength + lengths[index]) ?? ByteBuffer()
    }

    /// Seals every record where it lies with `cipher` (nonces in record order) and writes each
    /// frame's length before it; returns the frames, one after the other in one slice. Every
    /// record but the last is full, so the frames lie back to back. Called once, with the headers
    /// written and no record taken.
    mutating func seal(with cipher: inout CipherState) throws(NoiseError) -> ByteBuffer {
        let (lengths, headerLength, region) = (lengths, headerLength, region)
        var end = 0
        for index in lengths.indices {
            let plaintext = headerLength + lengths[index]
            let sealed = cipher.ciphertextLength(forPlaintextLength: plaintext)
            let at = start(of: index)
            buffer.setInteger(UInt16(truncatingIfNeeded: sealed), at: at - Self.lengthPrefix)
            let result: Result<Int, NoiseError> = buffer.withUnsafeMutableReadableBytes { raw in
                let output = UnsafeMutableRawBufferPointer(rebasing: raw[at..<(at + region - Self.lengthPrefix)])
                return Result { () throws(NoiseError) in
                    try cipher.encrypt(UnsafeRawBufferPointer(rebasing: output[..<plaintext]), into: output)
                }
            }
            _ = try result.get()
            end = at + sealed
        }
        return buffer.getSlice(at: 0, length: end) ?? ByteBuffer()
    }
}
