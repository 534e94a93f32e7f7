/// One record of the peer protocol (docs/protocol.md, "Records"): after the handshake every Noise
/// transport message carries exactly one. The wire form is a ``RecordType`` byte followed by the
/// fields below, integers big-endian.
///
/// Encoding is in `Record+Encoding.swift`, decoding (which enforces every per-record bound) in
/// `Record+Decoding.swift`; what may come when is ``SessionValidator``'s business.
public enum Record: Sendable, Hashable {
    // Sender -> receiver.

    /// Opens an offer: the transfer's token (a repeated token is a resume), the digest algorithm
    /// for every file, how many ENTRY records follow, and the sum of the files' sizes.
    case offerBegin(token: TransferToken, digest: DigestAlgorithm, entryCount: UInt32, totalBytes: UInt64)
    /// One entry of the offer; its index is its position among the offer's entries.
    case entry(OfferEntry)
    /// Closes the offer after exactly `entryCount` entries.
    case offerEnd
    /// File content: `bytes` (at least one) belong at `offset` of entry `entry`. `bytes` may share
    /// the storage of the decoded record.
    case data(entry: UInt32, offset: UInt64, bytes: ArraySlice<UInt8>)
    /// All bytes of entry `entry` are sent; `digest` covers the whole file, resumed prefix included.
    case fileEnd(entry: UInt32, digest: [UInt8])
    /// The sender gives up on entry `entry` (source unreadable or changed while it was read); the
    /// receiver discards it and answers FILE_RESULT(cancelled).
    case fileAbort(entry: UInt32)
    /// Every file has had its FILE_END or FILE_ABORT.
    case done

    // Receiver -> sender.

    /// Accepts the offer. `resumeCount` resume pairs follow in total: `resume` holds the first of
    /// them, ACCEPT_MORE records the rest. Files without a pair start at offset 0.
    case accept(resumeCount: UInt32, resume: [ResumePoint])
    /// More resume pairs (at least one) after ACCEPT.
    case acceptMore([ResumePoint])
    /// Refuses the offer; the receiver closes the connection after it.
    case refuse(RefuseCode)
    /// The receiver's verdict on entry `entry`, in the order the files were ended.
    case fileResult(entry: UInt32, FileResultCode)
    /// After DONE and every FILE_RESULT: the transfer is finished.
    case doneAck

    // Either side.

    /// Ends the session early; the side that sends it closes the connection after it.
    case cancel(CancelCode)
    /// Nothing; keeps an idle connection alive.
    case keepalive

    /// The type byte.
    public var type: RecordType {
        switch self {
        case .offerBegin: .offerBegin
        case .entry: .entry
        case .offerEnd: .offerEnd
        case .data: .data
        case .fileEnd: .fileEnd
        case .fileAbort: .fileAbort
        case .done: .done
        case .accept: .accept
        case .acceptMore: .acceptMore
        case .refuse: .refuse
        case .fileResult: .fileResult
        case .doneAck: .doneAck
        case .cancel: .cancel
        case .keepalive: .keepalive
        }
    }
}
