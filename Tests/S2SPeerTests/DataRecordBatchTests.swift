import Crypto
import NIOCore
import S2SProtocol
import Testing
@testable import S2SPeer
#if canImport(Glibc)
import Glibc
#endif

/// DATA records read straight from a file: each decodes to the record the old way would have
/// built, in SEQ or bare, and a file shorter than asked fills the first records only; sealed where
/// they lie, they leave as frames back to back that the peer opens in order.
struct DataRecordBatchTests {
    /// A file of `count` bytes (byte i is i * 7 mod 256) on tmpfs, opened for reading.
    private func file(_ count: Int) throws -> CInt {
        var template = Array("/dev/shm/s2s-batch-XXXXXX".utf8CString)
        let fd = mkstemp(&template)
        try #require(fd >= 0)
        unlink(template)
        let bytes = (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        #expect(bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } == count)
        return fd
    }

    private func decode(_ buffer: ByteBuffer) throws -> Record {
        try Record.decode(Array(buffer.readableBytesView), limits: ProtocolLimits())
    }

    @Test func recordsDecodeToTheFilesBytesAtTheirOffsets() throws {
        let fd = try file(300)
        defer { close(fd) }
        var batch = DataRecordBatch(allocator: ByteBufferAllocator(), bytes: 250, chunk: 100, sequenced: false)
        #expect(batch.read(from: fd, at: 40) == 250)
        #expect(batch.lengths == [100, 100, 50])
        var hashed: [UInt8] = []
        batch.forEachPayload { hashed += $0 }
        let expected = (40..<290).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        #expect(hashed == expected)
        batch.writeHeaders(entry: 3, offset: 40, sequences: nil)
        for (index, start) in [40, 140, 240].enumerated() {
            let record = try decode(batch.record(index))
            let end = min(start + 100, 290)
            #expect(record == .data(entry: 3, offset: UInt64(start), bytes: ArraySlice(expected[(start - 40)..<(end - 40)])))
        }
    }

    @Test func inSeqEachRecordCarriesItsSequenceAndAShortReadFillsTheFirstRecordsOnly() throws {
        let fd = try file(130)
        defer { close(fd) }
        var batch = DataRecordBatch(allocator: ByteBufferAllocator(), bytes: 400, chunk: 100, sequenced: true)
        #expect(batch.read(from: fd, at: 0) == 130)
        #expect(batch.lengths == [100, 30])
        batch.writeHeaders(entry: 0, offset: 0, sequences: [7, 8])
        let second = try decode(batch.record(1))
        let tail = (100..<130).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        #expect(second == .sequenced(sequence: 8, .data(entry: 0, offset: 100, bytes: ArraySlice(tail))))
        #expect(batch.record(0).readableBytes == Record.sequenceHeaderLength + Record.dataHeaderLength + 100)
    }

    @Test func aFailedReadFillsNothing() {
        var batch = DataRecordBatch(allocator: ByteBufferAllocator(), bytes: 10, chunk: 100, sequenced: false)
        #expect(batch.read(from: -1, at: 0) == -1)
        #expect(batch.lengths.isEmpty)
    }

    @Test(arguments: [NoiseCipher.chaChaPoly, .aesGCM])
    func sealedWhereTheyLieTheRecordsLeaveAsFramesBackToBack(cipher: NoiseCipher) throws {
        let fd = try file(250)
        defer { close(fd) }
        var batch = DataRecordBatch(allocator: ByteBufferAllocator(), bytes: 400, chunk: 100, sequenced: false)
        #expect(batch.read(from: fd, at: 0) == 250)
        batch.writeHeaders(entry: 5, offset: 0, sequences: nil)
        var sender = try CipherState(cipher: cipher, key: SymmetricKey(size: .bits256))
        var receiver = sender
        var frames = try batch.seal(with: &sender)
        #expect(sender.nonce == 3)
        // Three frames of header, data and tag, and nothing after the last one's tag.
        let header = Record.dataHeaderLength + NoiseCipher.tagLength
        #expect(frames.readableBytes == 3 * 2 + 2 * (header + 100) + (header + 50))
        var records: [Record] = []
        while frames.readableBytes > 0 {
            let length = frames.readInteger(as: UInt16.self) ?? 0
            let frame = frames.readBytes(length: Int(length)) ?? []
            records.append(try Record.decode(receiver.decrypt(frame), limits: ProtocolLimits()))
        }
        let bytes = (0..<250).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        #expect(records == [0, 100, 200].map { start in
            .data(entry: 5, offset: UInt64(start), bytes: ArraySlice(bytes[start..<min(start + 100, 250)]))
        })
    }

    @Test func aBatchReadAgainReusesItsBufferButNeverOverwritesARecordStillHeld() throws {
        let fd = try file(400)
        defer { close(fd) }
        var batch = DataRecordBatch(allocator: ByteBufferAllocator(), bytes: 200, chunk: 100, sequenced: false)
        let address = { (batch: DataRecordBatch) in batch.record(0).withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) } }
        #expect(batch.read(from: fd, at: 0, bytes: 150) == 150)
        #expect(batch.lengths == [100, 50])
        let first = address(batch)
        // Nothing holds its records: the next read lands in the same buffer.
        #expect(batch.read(from: fd, at: 200) == 200)
        #expect(address(batch) == first)
        // A record still in flight (a slice the socket has not taken) keeps its bytes.
        batch.writeHeaders(entry: 1, offset: 200, sequences: nil)
        let inFlight = batch.record(1)
        let before = Array(inFlight.readableBytesView)
        #expect(batch.read(from: fd, at: 0) == 200)
        #expect(address(batch) != first)
        #expect(Array(inFlight.readableBytesView) == before)
        #expect(try decode(inFlight) == .data(entry: 1, offset: 300, bytes: ArraySlice((300..<400).map { UInt8(truncatingIfNeeded: $0 &* 7) })))
    }
}
