public import NIOCore
import S2SProtocol
#if canImport(Glibc)
import Glibc
#endif

/// DATA records for one read of a file, laid out in one buffer: each record's header, then room
/// for its data, so that one `preadv` reads the file straight into the records (no copy between a
/// read buffer and the records), and each record leaves as a slice of the buffer.
///
/// The headers are written after the read (``writeHeaders(entry:offset:sequences:)``), once
/// it is known how many records the data fills, and before any record is taken: a slice shares
/// the buffer, so writing into it afterwards would copy the whole of it.
public struct DataRecordBatch {
    /// Each record's header: DATA's (type, entry, offset), after SEQ's (type, sequence) in a
    /// striped session.
    public let headerLength: Int
    /// The most data bytes per record.
    public let chunk: Int
    /// The records the batch has room for, and the file bytes they are for.
    private let records: Int
    private let bytes: Int
    private var buffer: ByteBuffer
    /// The data bytes each record got, in order; empty until a read.
    public private(set) var lengths: [Int] = []

    init(allocator: ByteBufferAllocator, bytes: Int, chunk: Int, sequenced: Bool) {
        self.headerLength = (sequenced ? Record.sequenceHeaderLength : 0) + Record.dataHeaderLength
        self.chunk = chunk
        self.records = (bytes + chunk - 1) / chunk
        self.bytes = bytes
        buffer = allocator.buffer(capacity: records * (headerLength + chunk))
    }

    /// Reads up to the batch's bytes of `fd` at `offset` into the records, with one `preadv`;
    /// returns what `preadv` returned (-1 with `errno` set on failure). A short read fills the
    /// first records only.
    public mutating func read(from fd: CInt, at offset: UInt64) -> Int {
        let (records, bytes, headerLength, chunk) = (records, bytes, headerLength, chunk)
        let region = headerLength + chunk
        var result = 0
        buffer.clear()
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: records * region) { raw in
            guard let base = raw.baseAddress else {
                result = -1
                return 0
            }
            var vectors = (0..<records).map { index in
                iovec(iov_base: base + index * region + headerLength, iov_len: min(chunk, bytes - index * chunk))
            }
            result = preadv(fd, &vectors, Int32(records), off_t(offset))
            return result > 0 ? records * region : 0
        }
        lengths = result > 0 ? (0..<records).map { max(0, min(chunk, result - $0 * chunk)) }.filter { $0 > 0 } : []
        return result
    }

    /// Each record's data, in order, while the buffer is held.
    public func forEachPayload(_ body: (UnsafeRawBufferPointer) -> Void) {
        let region = headerLength + chunk
        buffer.withUnsafeReadableBytes { raw in
            for (index, length) in lengths.enumerated() {
                body(UnsafeRawBufferPointer(rebasing: raw[(index * region + headerLength)..<(index * region + headerLength + length)]))
            }
        }
    }

    /// Writes the records' headers: entry `entry`, the data's offsets from `offset`, and in a
    /// striped session one sequence number per record (`sequences`, as many as ``lengths``).
    public mutating func writeHeaders(entry: UInt32, offset: UInt64, sequences: [UInt64]?) {
        let region = headerLength + chunk
        for index in lengths.indices {
            var at = index * region
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
        buffer.getSlice(at: index * (headerLength + chunk), length: headerLength + lengths[index]) ?? ByteBuffer()
    }
}
