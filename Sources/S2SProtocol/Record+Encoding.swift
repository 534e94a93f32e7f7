extension Record {
    /// Length of OFFER_BEGIN: type, token (16), digest algorithm, entry count u32, total u64.
    public static let offerBeginLength = 1 + TransferToken.length + 1 + 4 + 8
    /// Length of ENTRY without its path bytes: type, kind, mode u16, mtime i64 + u32, size u64,
    /// path length u16.
    public static let entryHeaderLength = 1 + 1 + 2 + 8 + 4 + 8 + 2
    /// Length of a DATA record without its data: type, entry u32, offset u64.
    public static let dataHeaderLength = 1 + 4 + 8
    /// Length of SEQ without its record: type, sequence number u64.
    public static let sequenceHeaderLength = 1 + 8
    /// Length of ACCEPT without its resume pairs: type, resume count u32.
    public static let acceptHeaderLength = 1 + 4

    /// The most data bytes one DATA record can carry to a peer that accepts `maxRecordSize`.
    public static func maxDataLength(maxRecordSize: Int) -> Int {
        min(maxRecordSize, ProtocolLimits.maxRecordSizeCeiling) - dataHeaderLength
    }

    /// The length of the encoded record.
    public var encodedLength: Int {
        switch self {
        case .offerBegin: Self.offerBeginLength
        case .entry(let entry): Self.entryHeaderLength + entry.path.byteCount
        case .offerEnd, .done, .doneAck, .keepalive, .joined: 1
        case .sequenced(_, let record): Self.sequenceHeaderLength + record.encodedLength
        case .join: 1 + StripeSecret.length
        case .stripes: 2 + StripeSecret.length
        case .data(_, _, let bytes): Self.dataHeaderLength + bytes.count
        case .fileEnd(_, let digest): 5 + digest.count
        case .fileAbort: 5
        case .accept(_, let resume): Self.acceptHeaderLength + resume.count * ResumePoint.encodedLength
        case .acceptMore(let resume): 1 + resume.count * ResumePoint.encodedLength
        case .refuse, .cancel: 2
        case .fileResult: 6
        case .candidates(let candidates): 2 + candidates.reduce(0) { $0 + $1.encodedLength }
        }
    }

    /// Appends the record to `buffer`. The encoder writes what it is given; the values' bounds are
    /// checked by the peer's decoder (and by ``SessionValidator/sending(_:)`` for the session rules).
    public func encode(into buffer: inout [UInt8]) {
        buffer.reserveCapacity(buffer.count + encodedLength)
        switch self {
        case .offerBegin(let token, let digest, let entryCount, let totalBytes):
            buffer.append(type.rawValue)
            buffer.append(contentsOf: token.bytes)
            buffer.append(digest.rawValue)
            buffer.appendBigEndian(entryCount)
            buffer.appendBigEndian(totalBytes)
        case .entry(let entry):
            buffer.append(type.rawValue)
            buffer.append(entry.kind.rawValue)
            buffer.appendBigEndian(entry.mode)
            buffer.appendBigEndian(entry.mtimeSeconds)
            buffer.appendBigEndian(entry.mtimeNanoseconds)
            buffer.appendBigEndian(entry.size)
            buffer.appendBigEndian(UInt16(truncatingIfNeeded: entry.path.byteCount))
            buffer.append(contentsOf: entry.path.string.utf8)
        case .data(let entry, let offset, let bytes):
            Self.appendDataHeader(entry: entry, offset: offset, to: &buffer)
            buffer.append(contentsOf: bytes)
        case .fileEnd(let entry, let digest):
            buffer.append(type.rawValue)
            buffer.appendBigEndian(entry)
            buffer.append(contentsOf: digest)
        case .fileAbort(let entry):
            buffer.append(type.rawValue)
            buffer.appendBigEndian(entry)
        case .accept(let resumeCount, let resume):
            buffer.append(type.rawValue)
            buffer.appendBigEndian(resumeCount)
            Self.append(resume, to: &buffer)
        case .acceptMore(let resume):
            buffer.append(type.rawValue)
            Self.append(resume, to: &buffer)
        case .refuse(let code):
            buffer.append(type.rawValue)
            buffer.append(code.rawValue)
        case .fileResult(let entry, let code):
            buffer.append(type.rawValue)
            buffer.appendBigEndian(entry)
            buffer.append(code.rawValue)
        case .cancel(let code):
            buffer.append(type.rawValue)
            buffer.append(code.rawValue)
        case .sequenced(let sequence, let record):
            buffer.append(type.rawValue)
            buffer.appendBigEndian(sequence)
            record.encode(into: &buffer)
        case .join(let secret):
            buffer.append(type.rawValue)
            buffer.append(contentsOf: secret.bytes)
        case .stripes(let extra, let secret):
            buffer.append(type.rawValue)
            buffer.append(extra)
            buffer.append(contentsOf: secret.bytes)
        case .candidates(let candidates):
            buffer.append(type.rawValue)
            buffer.append(UInt8(truncatingIfNeeded: candidates.count))
            for candidate in candidates {
                buffer.append(candidate.ip.count == 4 ? 4 : 6)
                buffer.append(contentsOf: candidate.ip)
                buffer.appendBigEndian(candidate.port)
            }
        case .offerEnd, .done, .doneAck, .keepalive, .joined:
            buffer.append(type.rawValue)
        }
    }

    /// The record as a new array.
    public func encoded() -> [UInt8] {
        var buffer: [UInt8] = []
        encode(into: &buffer)
        return buffer
    }

    /// Appends only the 13-byte header of a DATA record; the caller appends the data itself
    /// (1 to ``maxDataLength(maxRecordSize:)`` bytes), e.g. by reading the file straight into the
    /// same reusable buffer, so sending data copies nothing it need not.
    public static func appendDataHeader(entry: UInt32, offset: UInt64, to buffer: inout [UInt8]) {
        buffer.append(RecordType.data.rawValue)
        buffer.appendBigEndian(entry)
        buffer.appendBigEndian(offset)
    }

    /// `resume` (sorted by entry index) as one ACCEPT and as many ACCEPT_MORE records as it takes
    /// to keep each within `maxRecordSize` (the sender's HELLO).
    public static func acceptRecords(resume: [ResumePoint], maxRecordSize: Int) -> [Record] {
        let limit = min(max(maxRecordSize, ProtocolLimits.minimumRecordSizeLimit), ProtocolLimits.maxRecordSizeCeiling)
        let firstCount = min(resume.count, (limit - acceptHeaderLength) / ResumePoint.encodedLength)
        var records: [Record] = [
            .accept(resumeCount: UInt32(truncatingIfNeeded: resume.count), resume: Array(resume.prefix(firstCount)))
        ]
        let perRecord = (limit - 1) / ResumePoint.encodedLength
        var start = firstCount
        while start < resume.count {
            let end = min(start + perRecord, resume.count)
            records.append(.acceptMore(Array(resume[start..<end])))
            start = end
        }
        return records
    }

    private static func append(_ resume: [ResumePoint], to buffer: inout [UInt8]) {
        for point in resume {
            buffer.appendBigEndian(point.entry)
            buffer.appendBigEndian(point.wireOffset)
        }
    }
}
