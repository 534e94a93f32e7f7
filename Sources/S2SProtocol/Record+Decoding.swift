extension Record {
    /// Decodes one record (the plaintext of one Noise transport message), enforcing every bound
    /// that does not depend on earlier records: the record size, known type and enumerated values,
    /// field ranges, path rules, digest lengths, no missing and no trailing bytes. Never traps on
    /// input: anything wrong is a ``ProtocolError``.
    ///
    /// - Parameters:
    ///   - bytes: the record. A decoded DATA record's bytes share this storage.
    ///   - limits: this side's limits; `maxRecordSize` and `maxEntries` apply here.
    public static func decode(_ bytes: ArraySlice<UInt8>, limits: ProtocolLimits) throws(ProtocolError) -> Record {
        guard let first = bytes.first else { throw .emptyRecord }
        guard bytes.count <= limits.maxRecordSize else {
            throw .recordTooLarge(size: bytes.count, limit: limits.maxRecordSize)
        }
        guard let type = RecordType(rawValue: first) else { throw .unknownRecordType(first) }
        var reader = ByteReader(bytes.dropFirst(), type: type)
        let record: Record
        switch type {
        case .offerBegin:
            let token = TransferToken(unchecked: Array(try reader.take(TransferToken.length)))
            let digestValue = try reader.u8()
            guard let digest = DigestAlgorithm(rawValue: digestValue) else {
                throw .unknownValue(field: "digest algorithm", value: UInt64(digestValue))
            }
            let count = try reader.u32()
            guard count > 0 else { throw .emptyOffer }
            guard count <= limits.maxEntries else { throw .tooManyEntries(count: UInt64(count), limit: limits.maxEntries) }
            let total = try reader.u64()
            guard total <= ProtocolLimits.maxFileSize else { throw .sizeOutOfRange(field: "total bytes", value: total) }
            record = .offerBegin(token: token, digest: digest, entryCount: count, totalBytes: total)
        case .entry:
            let kindValue = try reader.u8()
            guard let kind = EntryKind(rawValue: kindValue) else {
                throw .unknownValue(field: "entry kind", value: UInt64(kindValue))
            }
            let mode = try reader.u16()
            guard mode & ~0o777 == 0 else { throw .invalidMode(mode) }
            let seconds = try reader.i64()
            let nanoseconds = try reader.u32()
            guard nanoseconds < 1_000_000_000 else { throw .invalidNanoseconds(nanoseconds) }
            let size = try reader.u64()
            guard size <= ProtocolLimits.maxFileSize else { throw .sizeOutOfRange(field: "entry size", value: size) }
            guard kind == .file || size == 0 else { throw .directoryWithSize(size) }
            let length = Int(try reader.u16())
            let path = try RelativePath(validating: try reader.take(length))
            record = .entry(
                OfferEntry(
                    kind: kind, mode: mode, mtimeSeconds: seconds, mtimeNanoseconds: nanoseconds, size: size,
                    path: path))
        case .data:
            let entry = try index(&reader, limits)
            let offset = try reader.u64()
            let data = reader.rest()
            guard !data.isEmpty else { throw .emptyData }
            guard offset <= ProtocolLimits.maxFileSize - UInt64(data.count) else {
                throw .sizeOutOfRange(field: "data offset", value: offset)
            }
            record = .data(entry: entry, offset: offset, bytes: data)
        case .fileEnd:
            let entry = try index(&reader, limits)
            let digest = reader.rest()
            guard DigestAlgorithm.allCases.contains(where: { $0.digestLength == digest.count }) else {
                throw .badDigestLength(digest.count)
            }
            record = .fileEnd(entry: entry, digest: Array(digest))
        case .fileAbort:
            record = .fileAbort(entry: try index(&reader, limits))
        case .accept:
            let count = try reader.u32()
            let resume = try resumePoints(&reader, limits)
            guard resume.count <= count else { throw .badResumeCount }
            guard count <= limits.maxEntries else { throw .tooManyEntries(count: UInt64(count), limit: limits.maxEntries) }
            record = .accept(resumeCount: count, resume: resume)
        case .acceptMore:
            let resume = try resumePoints(&reader, limits)
            guard !resume.isEmpty else { throw .badResumeCount }
            record = .acceptMore(resume)
        case .refuse:
            let value = try reader.u8()
            guard let code = RefuseCode(rawValue: value) else {
                throw .unknownValue(field: "refuse code", value: UInt64(value))
            }
            record = .refuse(code)
        case .fileResult:
            let entry = try index(&reader, limits)
            let value = try reader.u8()
            guard let code = FileResultCode(rawValue: value) else {
                throw .unknownValue(field: "file result code", value: UInt64(value))
            }
            record = .fileResult(entry: entry, code)
        case .cancel:
            let value = try reader.u8()
            guard let code = CancelCode(rawValue: value) else {
                throw .unknownValue(field: "cancel code", value: UInt64(value))
            }
            record = .cancel(code)
        case .sequenced:
            let sequence = try reader.u64()
            let rest = reader.rest()
            // Checked before decoding, so that nested SEQs cannot recurse.
            if rest.first == RecordType.sequenced.rawValue { throw .notSequenceable(.sequenced) }
            let inner = try decode(rest, limits: limits)
            guard inner.isSequenced else { throw .notSequenceable(inner.type) }
            record = .sequenced(sequence: sequence, inner)
        case .join:
            record = .join(StripeSecret(unchecked: Array(try reader.take(StripeSecret.length))))
        case .stripes:
            let extra = try reader.u8()
            record = .stripes(extra: extra, secret: StripeSecret(unchecked: Array(try reader.take(StripeSecret.length))))
        case .offerEnd: record = .offerEnd
        case .done: record = .done
        case .doneAck: record = .doneAck
        case .joined: record = .joined
        case .keepalive: record = .keepalive
        case .candidates:
            let count = Int(try reader.u8())
            guard count <= DirectCandidate.maxCount else {
                throw .unknownValue(field: "candidate count", value: UInt64(count))
            }
            var candidates: [DirectCandidate] = []
            for _ in 0..<count {
                let family = try reader.u8()
                guard family == 4 || family == 6 else { throw .unknownValue(field: "candidate family", value: UInt64(family)) }
                let ip = Array(try reader.take(family == 4 ? 4 : 16))
                let port = try reader.u16()
                guard let candidate = DirectCandidate(ip: ip, port: port) else { throw .unknownValue(field: "candidate port", value: 0) }
                candidates.append(candidate)
            }
            record = .candidates(candidates)
        }
        try reader.finish()
        return record
    }

    /// Decodes a record held in a whole array.
    public static func decode(_ bytes: [UInt8], limits: ProtocolLimits) throws(ProtocolError) -> Record {
        try decode(bytes[...], limits: limits)
    }

    private static func index(_ reader: inout ByteReader, _ limits: ProtocolLimits) throws(ProtocolError) -> UInt32 {
        let index = try reader.u32()
        guard index < limits.maxEntries else { throw .entryIndexOutOfRange(index, limit: limits.maxEntries) }
        return index
    }

    /// The rest of an ACCEPT or ACCEPT_MORE as resume pairs.
    private static func resumePoints(_ reader: inout ByteReader, _ limits: ProtocolLimits) throws(ProtocolError)
        -> [ResumePoint]
    {
        guard reader.remaining % ResumePoint.encodedLength == 0 else {
            throw .misalignedResumeList(reader.remaining)
        }
        var points: [ResumePoint] = []
        points.reserveCapacity(reader.remaining / ResumePoint.encodedLength)
        while reader.remaining > 0 {
            let entry = try index(&reader, limits)
            let offset = try reader.u64()
            if offset == ResumePoint.completeMarker {
                points.append(ResumePoint(entry: entry, position: .complete))
            } else {
                guard offset <= ProtocolLimits.maxFileSize else { throw .resumeOffsetOutOfRange(offset) }
                points.append(ResumePoint(entry: entry, position: .offset(offset)))
            }
        }
        return points
    }
}
