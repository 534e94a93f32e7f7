import Testing
@testable import S2SProtocol

/// Encoding and decoding of every record, and every per-record bound: just under is accepted,
/// just over is refused with its named error.
struct RecordCodecTests {
    let limits = ProtocolLimits.default

    func decode(_ bytes: [UInt8], _ limits: ProtocolLimits = .default) throws(ProtocolError) -> Record {
        try Record.decode(bytes, limits: limits)
    }

    @Test func everyTypeIsSampled() {
        #expect(Set(Fixtures.samples.map(\.type)) == Set(RecordType.allCases))
    }

    @Test func roundTrips() throws {
        for record in Fixtures.samples {
            let bytes = record.encoded()
            #expect(bytes.count == record.encodedLength, "\(record)")
            #expect(bytes.first == record.type.rawValue)
            #expect(try decode(bytes) == record, "\(record)")
            // Appending to a non-empty buffer leaves the prefix alone.
            var buffer: [UInt8] = [0xEE]
            record.encode(into: &buffer)
            #expect(buffer == [0xEE] + bytes)
        }
    }

    @Test func typeDirections() {
        #expect(RecordType.allCases.filter { $0.sentBy == .sender }.count == 9)
        #expect(RecordType.allCases.filter { $0.sentBy == .receiver }.count == 7)
        #expect(RecordType.allCases.filter { $0.sentBy == nil } == [.cancel, .keepalive, .candidates])
    }

    /// SEQ carries exactly the records a striped session sequences, never itself (checked before
    /// the inner record is decoded, so nesting cannot recurse), and its bounds are the inner one's.
    @Test func sequencedRecords() throws {
        let seq = Fixtures.hex("17 0000000000000005")
        #expect(try decode(seq + [0x16]) == .sequenced(sequence: 5, .done))
        #expect(try decode(seq + Fixtures.hex("15 00000003")) == .sequenced(sequence: 5, .fileAbort(entry: 3)))
        for inner in [Record.offerEnd, .keepalive, .cancel(.cancelled), .doneAck, .joined] {
            #expect(throws: ProtocolError.notSequenceable(inner.type)) { try decode(seq + inner.encoded()) }
        }
        // A deep nest is refused at its first level.
        let nested: [UInt8] = Array(repeating: seq, count: 5000).joined() + [0x16]
        #expect(throws: ProtocolError.notSequenceable(.sequenced)) { try decode(nested) }
        #expect(throws: ProtocolError.emptyRecord) { try decode(seq) }
        #expect(throws: ProtocolError.truncatedRecord(.sequenced)) { try decode(Fixtures.hex("17 00000000")) }
        #expect(throws: ProtocolError.emptyData) { try decode(seq + Fixtures.hex("13 00000001 0000000000000000")) }
        // The inner DATA's limit is the record's: SEQ's 9 bytes count.
        let limits = ProtocolLimits(maxRecordSize: 8192)
        let full = seq + Fixtures.hex("13 00000001 0000000000000000") + [UInt8](repeating: 1, count: 8192 - 9 - 13)
        #expect(try decode(full, limits) == .sequenced(sequence: 5, .data(entry: 1, offset: 0, bytes: full[22...])))
        #expect(throws: ProtocolError.recordTooLarge(size: 8193, limit: 8192)) { try decode(full + [1], limits) }
    }

    /// CANDIDATES: a count of at most 8, then family, address and a port that is not 0.
    @Test func candidatesRecords() throws {
        #expect(try decode(Fixtures.hex("32 01 04 c6130 00b 9c40")) == .candidates([DirectCandidate(ip: [198, 19, 0, 11], port: 40000)!]))
        #expect(throws: ProtocolError.self) { try decode(Fixtures.hex("32 09") + [UInt8](repeating: 0, count: 9 * 7)) }
        #expect(throws: ProtocolError.self) { try decode(Fixtures.hex("32 01 05 c613000b 9c40")) }
        #expect(throws: ProtocolError.self) { try decode(Fixtures.hex("32 01 04 c613000b 0000")) }
        #expect(throws: ProtocolError.truncatedRecord(.candidates)) { try decode(Fixtures.hex("32 02 04 c613000b 9c40")) }
        #expect(throws: ProtocolError.trailingBytes(.candidates, count: 1)) { try decode(Fixtures.hex("32 00 00")) }
        #expect(throws: ProtocolError.truncatedRecord(.candidates)) { try decode([0x32]) }
    }

    @Test func stripeRecords() throws {
        let secret = [UInt8](repeating: 0x5A, count: 16)
        #expect(try decode([0x18] + secret) == .join(StripeSecret(unchecked: secret)))
        #expect(try decode([0x25, 3] + secret) == .stripes(extra: 3, secret: StripeSecret(unchecked: secret)))
        #expect(try decode([0x26]) == .joined)
        #expect(throws: ProtocolError.truncatedRecord(.join)) { try decode([0x18] + secret.dropLast()) }
        #expect(throws: ProtocolError.trailingBytes(.join, count: 1)) { try decode([0x18] + secret + [0]) }
        #expect(throws: ProtocolError.truncatedRecord(.stripes)) { try decode([0x25, 3] + secret.dropLast()) }
        #expect(throws: ProtocolError.trailingBytes(.joined, count: 1)) { try decode([0x26, 0]) }
        // The secret never reaches a log through its description.
        #expect("\(StripeSecret(unchecked: secret))" == "stripe secret")
    }

    /// The records of docs/protocol.md's worked example, byte for byte.
    @Test func documentedExample() throws {
        let digest = Fixtures.hex("b5e9c1ad071b3e7fc779cfaa5e523818")  // XXH3-128("hello")
        let example: [(Record, String)] = [
            (
                .offerBegin(token: Fixtures.token, digest: .xxh3_128, entryCount: 2, totalBytes: 5),
                "10 000102030405060708090a0b0c0d0e0f 01 00000002 0000000000000005"
            ),
            (
                .entry(.directory(Fixtures.path("notes"), mode: 0o755, mtimeSeconds: 1_700_000_000)),
                "11 02 01ed 000000006553f100 00000000 0000000000000000 0005 6e6f746573"
            ),
            (
                .entry(
                    .file(
                        Fixtures.path("notes/hello.txt"), size: 5, mode: 0o644, mtimeSeconds: 1_700_000_000,
                        mtimeNanoseconds: 500_000_000)),
                "11 01 01a4 000000006553f100 1dcd6500 0000000000000005 000f 6e6f7465732f68656c6c6f2e747874"
            ),
            (.offerEnd, "12"),
            (.accept(resumeCount: 0, resume: []), "20 00000000"),
            (.data(entry: 1, offset: 0, bytes: Array("hello".utf8)[...]), "13 00000001 0000000000000000 68656c6c6f"),
            (.fileEnd(entry: 1, digest: digest), "14 00000001 b5e9c1ad071b3e7fc779cfaa5e523818"),
            (.fileResult(entry: 1, .ok), "23 00000001 00"),
            (.done, "16"),
            (.doneAck, "24"),
            // The retry of the same transfer after 2 bytes had been made durable.
            (
                .accept(resumeCount: 1, resume: [ResumePoint(entry: 1, position: .offset(2))]),
                "20 00000001 00000001 0000000000000002"
            ),
            (.data(entry: 1, offset: 2, bytes: Array("llo".utf8)[...]), "13 00000001 0000000000000002 6c6c6f"),
            (.keepalive, "31"),
            (.refuse(.busy), "22 06"),
            (.cancel(.cancelled), "30 01"),
            (.fileAbort(entry: 1), "15 00000001"),
            (.acceptMore([ResumePoint(entry: 7, position: .complete)]), "21 00000007 ffffffffffffffff"),
        ]
        for (record, hex) in example {
            #expect(Fixtures.hexString(record.encoded()) == hex.filter { $0 != " " }, "\(record.type)")
            #expect(try decode(Fixtures.hex(hex)) == record)
        }
    }

    @Test func dataHeaderIsTheRecordPrefix() throws {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(ProtocolLimits.maxRecordSizeCeiling)
        Record.appendDataHeader(entry: 42, offset: 1 << 40, to: &buffer)
        #expect(buffer.count == Record.dataHeaderLength)
        buffer.append(contentsOf: [9, 8, 7])
        #expect(buffer == Record.data(entry: 42, offset: 1 << 40, bytes: [9, 8, 7]).encoded())
        #expect(Record.maxDataLength(maxRecordSize: 65519) == 65506)
        #expect(Record.maxDataLength(maxRecordSize: 1_000_000) == 65506)
    }

    @Test func empty() {
        #expect(throws: ProtocolError.emptyRecord) { try decode([]) }
    }

    @Test func unknownTypes() {
        let known = Set(RecordType.allCases.map(\.rawValue))
        for value in UInt8.min...UInt8.max where !known.contains(value) {
            #expect(throws: ProtocolError.unknownRecordType(value)) { try decode([value]) }
            #expect(throws: ProtocolError.unknownRecordType(value)) { try decode([value, 0, 0, 0, 0, 0]) }
        }
    }

    /// Every proper prefix of a fixed-layout record is refused; cutting into the fixed fields is
    /// reported as truncation.
    @Test func truncated() {
        for record in Fixtures.samples {
            let bytes = record.encoded()
            let fixed: Int =
                switch record.type {
                case .data: Record.dataHeaderLength
                // Past its own header, SEQ's record is cut by the inner record's rules.
                case .sequenced: Record.sequenceHeaderLength
                case .fileEnd: 5
                case .accept: Record.acceptHeaderLength
                case .acceptMore: 1
                case .entry: Record.entryHeaderLength
                default: bytes.count
                }
            for length in 1..<fixed {
                #expect(throws: ProtocolError.truncatedRecord(record.type), "\(record.type) cut to \(length)") {
                    try decode(Array(bytes.prefix(length)))
                }
            }
            if record.type == .entry || record.type == .fileEnd {
                for length in fixed..<bytes.count where length != 5 + 16 {
                    #expect(throws: ProtocolError.self, "\(record.type) cut to \(length)") {
                        try decode(Array(bytes.prefix(length)))
                    }
                }
            }
        }
    }

    @Test func trailingBytes() throws {
        for record in Fixtures.samples {
            var bytes = record.encoded()
            bytes.append(0)
            switch record.type {
            case .data:
                // DATA's bytes run to the end of the record: a longer record is other data, or
                // runs past 2^63-1.
                if let decoded = try? decode(bytes) { #expect(decoded != record) }
            case .sequenced:
                // The inner record's rule: other data, or its own trailing bytes.
                #expect((try? decode(bytes)) != record)
            case .fileEnd:
                #expect(throws: ProtocolError.badDigestLength(bytes.count - 5)) { try decode(bytes) }
            case .accept:
                #expect(throws: ProtocolError.misalignedResumeList(bytes.count - 5)) { try decode(bytes) }
            case .acceptMore:
                #expect(throws: ProtocolError.misalignedResumeList(bytes.count - 1)) { try decode(bytes) }
            default:
                #expect(throws: ProtocolError.trailingBytes(record.type, count: 1), "\(record.type)") {
                    try decode(bytes)
                }
            }
        }
        // An ENTRY whose path length says less than the bytes that follow.
        var entry = Record.entry(.file(Fixtures.path("abc"), size: 0)).encoded()
        entry[Record.entryHeaderLength - 1] = 2
        #expect(throws: ProtocolError.trailingBytes(.entry, count: 1)) { try decode(entry) }
        entry[Record.entryHeaderLength - 1] = 4
        #expect(throws: ProtocolError.truncatedRecord(.entry)) { try decode(entry) }
    }

    @Test func recordSize() throws {
        for limit in [ProtocolLimits.minimumRecordSizeLimit, 20_000, ProtocolLimits.maxRecordSizeCeiling] {
            let limits = ProtocolLimits(maxRecordSize: limit)
            let fits = Array(repeating: UInt8(1), count: limit - Record.dataHeaderLength)
            let record = Record.data(entry: 0, offset: 0, bytes: fits[...])
            #expect(try decode(record.encoded(), limits) == record)
            let over = Record.data(entry: 0, offset: 0, bytes: (fits + [1])[...]).encoded()
            #expect(throws: ProtocolError.recordTooLarge(size: limit + 1, limit: limit)) { try decode(over, limits) }
        }
        // The limit is clamped to what a HELLO may advertise and a Noise message can carry.
        #expect(ProtocolLimits(maxRecordSize: 10).maxRecordSize == ProtocolLimits.minimumRecordSizeLimit)
        #expect(ProtocolLimits(maxRecordSize: 1 << 20).maxRecordSize == 65519)
    }

    @Test func entryCount() throws {
        let limits = ProtocolLimits(maxEntries: 100)
        func offer(_ count: UInt32) -> [UInt8] {
            Record.offerBegin(token: Fixtures.token, digest: .sha256, entryCount: count, totalBytes: 0).encoded()
        }
        #expect(try decode(offer(100), limits) != .keepalive)
        #expect(throws: ProtocolError.tooManyEntries(count: 101, limit: 100)) { try decode(offer(101), limits) }
        #expect(throws: ProtocolError.emptyOffer) { try decode(offer(0), limits) }
        #expect(throws: ProtocolError.tooManyEntries(count: 100_000, limit: 65_536)) { try decode(offer(100_000)) }
        #expect(throws: ProtocolError.tooManyEntries(count: UInt64(UInt32.max), limit: 65_536)) {
            try decode(offer(.max))
        }
        #expect(ProtocolError.tooManyEntries(count: 1, limit: 0).refuseCode == .tooLarge)

        // Entry indices must be below the limit, in every record that carries one.
        for (ok, over) in [
            (Record.data(entry: 99, offset: 0, bytes: [1]), Record.data(entry: 100, offset: 0, bytes: [1])),
            (.fileEnd(entry: 99, digest: Array(repeating: 0, count: 16)), .fileEnd(entry: 100, digest: Array(repeating: 0, count: 16))),
            (.fileAbort(entry: 99), .fileAbort(entry: 100)),
            (.fileResult(entry: 99, .ok), .fileResult(entry: 100, .ok)),
            (.acceptMore([ResumePoint(entry: 99, position: .complete)]), .acceptMore([ResumePoint(entry: 100, position: .complete)])),
        ] {
            #expect(try decode(ok.encoded(), limits) == ok)
            #expect(throws: ProtocolError.entryIndexOutOfRange(100, limit: 100)) { try decode(over.encoded(), limits) }
        }
        let acceptOver = Record.accept(resumeCount: 101, resume: []).encoded()
        #expect(throws: ProtocolError.tooManyEntries(count: 101, limit: 100)) { try decode(acceptOver, limits) }
    }

    @Test func sizes() throws {
        let max = ProtocolLimits.maxFileSize
        func begin(_ total: UInt64) -> Record {
            .offerBegin(token: Fixtures.token, digest: .xxh3_128, entryCount: 1, totalBytes: total)
        }
        #expect(try decode(begin(max).encoded()) == begin(max))
        #expect(throws: ProtocolError.sizeOutOfRange(field: "total bytes", value: max + 1)) {
            try decode(begin(max + 1).encoded())
        }
        let file = Record.entry(.file(Fixtures.path("f"), size: max))
        #expect(try decode(file.encoded()) == file)
        #expect(throws: ProtocolError.sizeOutOfRange(field: "entry size", value: max + 1)) {
            try decode(Record.entry(.file(Fixtures.path("f"), size: max + 1)).encoded())
        }
        #expect(throws: ProtocolError.sizeOutOfRange(field: "entry size", value: .max)) {
            try decode(Record.entry(.file(Fixtures.path("f"), size: .max)).encoded())
        }
        // DATA must end at or before 2^63-1.
        let last = Record.data(entry: 0, offset: max - 3, bytes: [1, 2, 3])
        #expect(try decode(last.encoded()) == last)
        #expect(throws: ProtocolError.sizeOutOfRange(field: "data offset", value: max - 2)) {
            try decode(Record.data(entry: 0, offset: max - 2, bytes: [1, 2, 3]).encoded())
        }
        #expect(throws: ProtocolError.sizeOutOfRange(field: "data offset", value: .max)) {
            try decode(Record.data(entry: 0, offset: .max, bytes: [1]).encoded())
        }
        #expect(throws: ProtocolError.emptyData) { try decode(Record.data(entry: 0, offset: 0, bytes: []).encoded()) }
        // A directory has no size.
        var directory = OfferEntry.directory(Fixtures.path("d"))
        directory.size = 1
        #expect(throws: ProtocolError.directoryWithSize(1)) { try decode(Record.entry(directory).encoded()) }
    }

    @Test func entryFields() throws {
        func entry(mode: UInt16 = 0o644, nanoseconds: UInt32 = 0) -> Record {
            .entry(.file(Fixtures.path("f"), size: 1, mode: mode, mtimeSeconds: 0, mtimeNanoseconds: nanoseconds))
        }
        for mode: UInt16 in [0, 0o777, 0o600, 0o755] {
            #expect(try decode(entry(mode: mode).encoded()) == entry(mode: mode))
        }
        for mode: UInt16 in [0o1000, 0o2000, 0o4000, 0o4755, 0o1777, 0o100644, 0o040755, .max] {
            #expect(throws: ProtocolError.invalidMode(mode)) { try decode(entry(mode: mode).encoded()) }
        }
        #expect(try decode(entry(nanoseconds: 999_999_999).encoded()) == entry(nanoseconds: 999_999_999))
        #expect(throws: ProtocolError.invalidNanoseconds(1_000_000_000)) {
            try decode(entry(nanoseconds: 1_000_000_000).encoded())
        }
        var bytes = entry().encoded()
        for kind: UInt8 in [0, 3, 0xFF] {
            bytes[1] = kind
            #expect(throws: ProtocolError.unknownValue(field: "entry kind", value: UInt64(kind))) { try decode(bytes) }
        }
    }

    @Test func pathsInEntries() throws {
        func entry(_ pathBytes: [UInt8]) -> [UInt8] {
            var bytes = Record.entry(.file(Fixtures.path("x"), size: 0)).encoded().dropLast(3)
            bytes.append(UInt8(pathBytes.count >> 8))
            bytes.append(UInt8(pathBytes.count & 0xFF))
            return Array(bytes) + pathBytes
        }
        #expect(try decode(entry(Array("ok/path".utf8))) == .entry(.file(Fixtures.path("ok/path"), size: 0)))
        let long = Array(repeating: Array(repeating: UInt8(ascii: "x"), count: 255), count: 16)
            .joined(separator: [UInt8(ascii: "/")]).dropFirst()  // 4094 bytes
        #expect(throws: Never.self) { try decode(entry(Array(long) + [0x2F, 0x79])) }
        #expect(throws: ProtocolError.pathTooLong(4097)) { try decode(entry(Array(long) + [0x2F, 0x79, 0x7A])) }
        #expect(throws: ProtocolError.emptyPath) { try decode(entry([])) }
        #expect(throws: ProtocolError.dotComponent) { try decode(entry(Array("../x".utf8))) }
        #expect(throws: ProtocolError.absolutePath) { try decode(entry(Array("/etc/passwd".utf8))) }
        #expect(throws: ProtocolError.controlCharacter(0)) { try decode(entry([0x61, 0x00, 0x62])) }
        #expect(throws: ProtocolError.invalidUTF8) { try decode(entry([0x61, 0xFF])) }
        #expect(throws: ProtocolError.reservedName) { try decode(entry(Array(".s2s-partial/a".utf8))) }
    }

    @Test func codes() throws {
        let digestOffset = 1 + TransferToken.length
        var begin = Fixtures.samples[0].encoded()
        for value: UInt8 in [0, 3, 0xFF] {
            begin[digestOffset] = value
            #expect(throws: ProtocolError.unknownValue(field: "digest algorithm", value: UInt64(value))) {
                try decode(begin)
            }
        }
        for value in UInt8.min...UInt8.max {
            if let code = RefuseCode(rawValue: value) {
                #expect(try decode([0x22, value]) == .refuse(code))
            } else {
                #expect(throws: ProtocolError.unknownValue(field: "refuse code", value: UInt64(value))) {
                    try decode([0x22, value])
                }
            }
            if let code = CancelCode(rawValue: value) {
                #expect(try decode([0x30, value]) == .cancel(code))
            } else {
                #expect(throws: ProtocolError.unknownValue(field: "cancel code", value: UInt64(value))) {
                    try decode([0x30, value])
                }
            }
            if let code = FileResultCode(rawValue: value) {
                #expect(try decode([0x23, 0, 0, 0, 1, value]) == .fileResult(entry: 1, code))
            } else {
                #expect(throws: ProtocolError.unknownValue(field: "file result code", value: UInt64(value))) {
                    try decode([0x23, 0, 0, 0, 1, value])
                }
            }
        }
        #expect(RefuseCode.allCases.map(\.rawValue) == Array(1...8))
        #expect(CancelCode.allCases.map(\.rawValue) == Array(1...9))
        #expect(FileResultCode.allCases.map(\.rawValue) == Array(0...5))
    }

    @Test func digestLengths() throws {
        for length in 0...40 {
            let record = Record.fileEnd(entry: 0, digest: Array(repeating: 1, count: length))
            if length == 16 || length == 32 {
                #expect(try decode(record.encoded()) == record)
            } else {
                #expect(throws: ProtocolError.badDigestLength(length)) { try decode(record.encoded()) }
            }
        }
        #expect(DigestAlgorithm.xxh3_128.digestLength == 16)
        #expect(DigestAlgorithm.sha256.digestLength == 32)
    }

    @Test func resumeLists() throws {
        let max = ProtocolLimits.maxFileSize
        let ok = Record.acceptMore([
            ResumePoint(entry: 0, position: .offset(max)), ResumePoint(entry: 1, position: .complete),
        ])
        #expect(try decode(ok.encoded()) == ok)
        for offset in [max + 1, UInt64.max - 1] {
            let bad = Fixtures.hex("21 00000000") + withUnsafeBytes(of: offset.bigEndian) { Array($0) }
            #expect(throws: ProtocolError.resumeOffsetOutOfRange(offset)) { try decode(bad) }
        }
        #expect(throws: ProtocolError.badResumeCount) { try decode([0x21]) }
        #expect(throws: ProtocolError.misalignedResumeList(11)) { try decode([0x21] + Array(repeating: 0, count: 11)) }
        #expect(throws: ProtocolError.misalignedResumeList(13)) { try decode([0x21] + Array(repeating: 0, count: 13)) }
        // ACCEPT may carry fewer pairs than it announces (ACCEPT_MORE follows), never more.
        let partial = Record.accept(resumeCount: 5, resume: [ResumePoint(entry: 0, position: .offset(1))])
        #expect(try decode(partial.encoded()) == partial)
        let tooMany = Record.accept(resumeCount: 0, resume: [ResumePoint(entry: 0, position: .offset(1))])
        #expect(throws: ProtocolError.badResumeCount) { try decode(tooMany.encoded()) }
    }

    @Test func acceptSplitting() throws {
        let points = (0..<10_000).map { ResumePoint(entry: UInt32($0) * 3, position: $0 % 2 == 0 ? .complete : .offset(UInt64($0))) }
        for limit in [8192, 20_000, 65519] {
            let records = Record.acceptRecords(resume: points, maxRecordSize: limit)
            var collected: [ResumePoint] = []
            let limits = ProtocolLimits(maxRecordSize: limit, maxEntries: 30_000)
            for (index, record) in records.enumerated() {
                let bytes = record.encoded()
                #expect(bytes.count <= limit)
                switch try decode(bytes, limits) {
                case .accept(let count, let resume) where index == 0:
                    #expect(count == 10_000)
                    collected += resume
                case .acceptMore(let resume) where index > 0:
                    #expect(!resume.isEmpty)
                    collected += resume
                default:
                    Issue.record("unexpected record \(record.type) at \(index)")
                }
            }
            #expect(collected == points)
        }
        #expect(Record.acceptRecords(resume: [], maxRecordSize: 65519) == [.accept(resumeCount: 0, resume: [])])
    }

    @Test func helloPayload() throws {
        let hello = Hello(limits: .default)
        // Flags: every feature this implementation has (0x0001 pause, 0x0002 stripes; 0x0004
        // AES-GCM only on a CPU that runs it in hardware).
        #expect(hello.encoded() == Fixtures.hex(NoiseCipher.hasHardwareAES ? "0001 0007 0000ffef" : "0001 0003 0000ffef"))
        #expect(hello.preferredCipher == (NoiseCipher.hasHardwareAES ? .aesGCM : .chaChaPoly))
        #expect(Hello(flags: Hello.Feature.pause, maxRecordSize: 8192).preferredCipher == .chaChaPoly)
        #expect(hello.has(Hello.Feature.stripes))
        #expect(hello.has(Hello.Feature.pause) && !Hello(maxRecordSize: 8192).has(Hello.Feature.pause))
        #expect(try Hello.decode(hello.encoded()) == hello)
        #expect(hello.effectiveMaxRecordSize == 65519)
        #expect(Hello(maxRecordSize: 1 << 30).effectiveMaxRecordSize == 65519)
        #expect(try Hello.decode(Fixtures.hex("0001 8001 00002000")) == Hello(flags: 0x8001, maxRecordSize: 8192))
        #expect(throws: ProtocolError.recordSizeLimitTooSmall(8191)) { try Hello.decode(Fixtures.hex("0001 0000 00001fff")) }
        #expect(throws: ProtocolError.unsupportedVersion(2)) { try Hello.decode(Fixtures.hex("0002 0000 0000ffef")) }
        #expect(throws: ProtocolError.unsupportedVersion(2)) { try Hello.decode(Fixtures.hex("0002")) }
        #expect(throws: ProtocolError.unsupportedVersion(0)) { try Hello.decode(Fixtures.hex("0000 0000 0000ffef 00")) }
        #expect(throws: ProtocolError.badLength(what: "HELLO", expected: 8, actual: 1)) { try Hello.decode([0]) }
        #expect(throws: ProtocolError.badLength(what: "HELLO", expected: 8, actual: 9)) {
            try Hello.decode(Fixtures.hex("0001 0000 0000ffef 00"))
        }
        #expect(throws: ProtocolError.badLength(what: "HELLO", expected: 8, actual: 7)) {
            try Hello.decode(Fixtures.hex("0001 0000 0000ff"))
        }
        #expect(ProtocolError.unsupportedVersion(2).refuseCode == .version)
    }
}
