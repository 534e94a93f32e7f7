/// Everything that can be wrong with what a peer sends above the Noise layer: a preamble, a HELLO,
/// a record, or a record at the wrong moment.
///
/// Every case is a protocol violation by the peer (or, when thrown by
/// ``SessionValidator/sending(_:)``, a bug on our side), and ends the connection
/// (docs/protocol.md, "Errors"). While the receiver has not yet answered an offer it replies with
/// ``refuseCode`` before closing; later the side that detects the error may send
/// ``CancelCode/protocolError`` and then closes. The peer never learns more than that code.
public enum ProtocolError: Error, Sendable, Hashable, CustomStringConvertible {
    // MARK: Preamble and HELLO

    /// The session preamble does not start with the magic bytes `s2s/1`.
    case badPreambleMagic
    /// The session preamble or a HELLO payload has the wrong length.
    case badLength(what: String, expected: Int, actual: Int)
    /// The peer's HELLO names a protocol version this implementation does not speak.
    case unsupportedVersion(UInt16)
    /// The peer's HELLO advertises a maximum record size below ``ProtocolLimits/minimumRecordSizeLimit``.
    case recordSizeLimitTooSmall(UInt32)

    // MARK: Record framing

    /// A record with no bytes at all (not even a type).
    case emptyRecord
    /// A record longer than the maximum this side advertised.
    case recordTooLarge(size: Int, limit: Int)
    /// A record type byte that version 1 does not define.
    case unknownRecordType(UInt8)
    /// SEQ around a record that a striped session does not sequence (SEQ itself among them).
    case notSequenceable(RecordType)
    /// A record ends before all its fixed fields.
    case truncatedRecord(RecordType)
    /// A record has bytes after its last field.
    case trailingBytes(RecordType, count: Int)

    // MARK: Field values

    /// An enumerated field holds a value that version 1 does not define.
    case unknownValue(field: String, value: UInt64)
    /// OFFER_BEGIN announces zero entries.
    case emptyOffer
    /// OFFER_BEGIN announces more entries than this side accepts, or an offer grows past that.
    case tooManyEntries(count: UInt64, limit: Int)
    /// An entry index at or beyond the limit (or the offer's entry count).
    case entryIndexOutOfRange(UInt32, limit: Int)
    /// A size, total or offset above 2^63-1 (the largest `off_t`).
    case sizeOutOfRange(field: String, value: UInt64)
    /// An entry's mode has bits outside 0o777 (setuid, setgid, sticky or file-type bits).
    case invalidMode(UInt16)
    /// An mtime's nanoseconds are not below 1,000,000,000.
    case invalidNanoseconds(UInt32)
    /// A directory entry with a non-zero size.
    case directoryWithSize(UInt64)
    /// A DATA record with no data bytes.
    case emptyData
    /// A FILE_END digest whose length matches no digest algorithm, or not the offer's algorithm.
    case badDigestLength(Int)
    /// ACCEPT or ACCEPT_MORE with resume bytes that are not a whole number of 12-byte pairs.
    case misalignedResumeList(Int)
    /// ACCEPT carrying more resume pairs than it announces, or an ACCEPT_MORE with none.
    case badResumeCount
    /// A resume offset above 2^63-1 that is not the COMPLETE marker.
    case resumeOffsetOutOfRange(UInt64)

    // MARK: Paths

    /// An empty path.
    case emptyPath
    /// A path longer than ``ProtocolLimits/maxPathLength`` bytes.
    case pathTooLong(Int)
    /// A path component longer than ``ProtocolLimits/maxComponentLength`` bytes.
    case componentTooLong(Int)
    /// A path that is not valid UTF-8.
    case invalidUTF8
    /// A path starting with `/`.
    case absolutePath
    /// An empty component: `a//b`, or a trailing `/`.
    case emptyComponent
    /// A `.` or `..` component.
    case dotComponent
    /// A C0 control character, DEL or a C1 control character (the code point is given).
    case controlCharacter(UInt32)
    /// A first component equal to the receiver's partial area, `.s2s-partial`.
    case reservedName

    // MARK: Session (SessionValidator)

    /// A record that may not come from that side, or not at this point of the session.
    case unexpectedRecord(RecordType, phase: SessionValidator.Phase)
    /// A record after the session ended (REFUSE, CANCEL or DONE_ACK).
    case sessionEnded(RecordType)
    /// Two entries of one offer with the same path.
    case duplicatePath(String)
    /// An entry whose parent directory is not an earlier directory entry of the offer.
    case missingParent(String)
    /// The paths of one offer add up to more than ``ProtocolLimits/maxOfferPathBytes``.
    case offerPathBytesExceeded(limit: Int)
    /// The entries' sizes do not add up to the total announced in OFFER_BEGIN.
    case totalMismatch(announced: UInt64)
    /// OFFER_END before the announced number of entries.
    case missingEntries(announced: UInt32, received: UInt32)
    /// A resume pair names a directory.
    case resumeForDirectory(UInt32)
    /// Resume pairs out of order: indices must strictly increase.
    case resumeOrder(UInt32)
    /// A resume offset beyond the entry's size.
    case resumeBeyondSize(entry: UInt32, offset: UInt64, size: UInt64)
    /// DATA, FILE_END or FILE_ABORT for another entry than the one whose turn it is.
    case wrongEntry(expected: UInt32?, actual: UInt32)
    /// DATA at another offset than where the previous data (or the resume offset) ended.
    case wrongOffset(entry: UInt32, expected: UInt64, actual: UInt64)
    /// A SEQ whose number is not the next of the session's order (a gap, a repeat).
    case wrongSequence(expected: UInt64, actual: UInt64)
    /// A sender's record after ACCEPT in SEQ where the first was bare, or bare where it was in SEQ.
    case sequencingChanged(RecordType)
    /// DATA that runs past the entry's size.
    case dataBeyondSize(entry: UInt32)
    /// FILE_END before all the entry's bytes were sent.
    case fileIncomplete(entry: UInt32, received: UInt64, size: UInt64)
    /// FILE_RESULT for another file than the oldest one awaiting its result.
    case wrongResult(expected: UInt32?, actual: UInt32)
    /// DONE while a file is unfinished, or DONE_ACK while results are missing.
    case unfinishedFiles(Int)

    /// The REFUSE code a receiver sends when this error is found in an offer it has not answered
    /// yet: "too many entries or too large" for size limits, "malformed offer" for everything else.
    public var refuseCode: RefuseCode {
        switch self {
        case .tooManyEntries, .offerPathBytesExceeded, .recordTooLarge: .tooLarge
        case .unsupportedVersion: .version
        default: .malformedOffer
        }
    }

    public var description: String {
        switch self {
        case .badPreambleMagic: "session preamble does not start with \"s2s/1\""
        case .badLength(let what, let expected, let actual): "\(what) is \(actual) bytes, expected \(expected)"
        case .unsupportedVersion(let version): "unsupported protocol version \(version)"
        case .recordSizeLimitTooSmall(let size): "peer's maximum record size \(size) is below the minimum"
        case .emptyRecord: "empty record"
        case .recordTooLarge(let size, let limit): "record of \(size) bytes exceeds the limit of \(limit)"
        case .unknownRecordType(let type): "unknown record type 0x\(String(type, radix: 16))"
        case .notSequenceable(let type): "\(type) inside SEQ"
        case .truncatedRecord(let type): "truncated \(type) record"
        case .trailingBytes(let type, let count): "\(count) trailing bytes after a \(type) record"
        case .unknownValue(let field, let value): "unknown \(field) \(value)"
        case .emptyOffer: "offer without entries"
        case .tooManyEntries(let count, let limit): "offer of \(count) entries exceeds the limit of \(limit)"
        case .entryIndexOutOfRange(let index, let limit): "entry index \(index) is not below \(limit)"
        case .sizeOutOfRange(let field, let value): "\(field) \(value) exceeds 2^63-1"
        case .invalidMode(let mode): "mode 0o\(String(mode, radix: 8)) has bits outside 0o777"
        case .invalidNanoseconds(let ns): "mtime nanoseconds \(ns) not below 10^9"
        case .directoryWithSize(let size): "directory entry with size \(size)"
        case .emptyData: "DATA record without data"
        case .badDigestLength(let length): "digest of \(length) bytes does not match the algorithm"
        case .misalignedResumeList(let count): "resume list of \(count) bytes is not a multiple of 12"
        case .badResumeCount: "resume pairs do not match the announced count"
        case .resumeOffsetOutOfRange(let offset): "resume offset \(offset) out of range"
        case .emptyPath: "empty path"
        case .pathTooLong(let length): "path of \(length) bytes is too long"
        case .componentTooLong(let length): "path component of \(length) bytes is too long"
        case .invalidUTF8: "path is not valid UTF-8"
        case .absolutePath: "absolute path"
        case .emptyComponent: "path has an empty component"
        case .dotComponent: "path has a . or .. component"
        case .controlCharacter(let scalar): "path has control character U+\(String(scalar, radix: 16, uppercase: true))"
        case .reservedName: "path starts with the reserved name .s2s-partial"
        case .unexpectedRecord(let type, let phase): "\(type) not allowed now (\(phase))"
        case .sessionEnded(let type): "\(type) after the session ended"
        case .duplicatePath(let path): "duplicate path \"\(path)\""
        case .missingParent(let path): "parent of \"\(path)\" is not an earlier directory entry"
        case .offerPathBytesExceeded(let limit): "offer paths exceed \(limit) bytes"
        case .totalMismatch(let total): "entry sizes do not add up to the announced total \(total)"
        case .missingEntries(let announced, let received): "offer ended after \(received) of \(announced) entries"
        case .resumeForDirectory(let index): "resume pair for directory entry \(index)"
        case .resumeOrder(let index): "resume pair for entry \(index) out of order"
        case .resumeBeyondSize(let entry, let offset, let size):
            "resume offset \(offset) beyond the size \(size) of entry \(entry)"
        case .wrongEntry(let expected, let actual):
            "record for entry \(actual), expected \(expected.map { "entry \($0)" } ?? "none")"
        case .wrongOffset(let entry, let expected, let actual):
            "DATA for entry \(entry) at offset \(actual), expected \(expected)"
        case .wrongSequence(let expected, let actual): "SEQ \(actual) where \(expected) was next"
        case .sequencingChanged(let type): "\(type) in SEQ and bare in one session"
        case .dataBeyondSize(let entry): "DATA beyond the size of entry \(entry)"
        case .fileIncomplete(let entry, let received, let size):
            "FILE_END for entry \(entry) after \(received) of \(size) bytes"
        case .wrongResult(let expected, let actual):
            "FILE_RESULT for entry \(actual), expected \(expected.map { "entry \($0)" } ?? "none")"
        case .unfinishedFiles(let count): "\(count) files unfinished"
        }
    }
}
