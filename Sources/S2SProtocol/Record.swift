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
    /// A striped session's record (DATA, FILE_END, FILE_ABORT or DONE) with its place `sequence`
    /// in the session's one order across all its connections (docs/protocol.md, "Striped
    /// sessions").
    indirect case sequenced(sequence: UInt64, Record)
    /// The first record of a further connection: joins the session whose STRIPES gave `secret`.
    case join(StripeSecret)

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
    /// After ACCEPT, to a sender that can stripe: up to `extra` further connections may join this
    /// session with `secret`.
    case stripes(extra: UInt8, secret: StripeSecret)
    /// The answer to JOIN: this connection is now a stripe of the session.
    case joined

    // Either side.

    /// Ends the session early; the side that sends it closes the connection after it.
    case cancel(CancelCode)
    /// Nothing; keeps an idle connection alive.
    case keepalive
    /// Either side, before the offer, on a relayed session where both asked for a direct path:
    /// where this side can be reached (docs/protocol.md, "Relay to direct"); none: it declines.
    case candidates([DirectCandidate])

    /// Whether a striped session carries this record in SEQ: what the sender sends once the offer
    /// is accepted.
    public var isSequenced: Bool {
        switch self {
        case .data, .fileEnd, .fileAbort, .done: true
        default: false
        }
    }

    /// The record inside SEQ, or this record.
    public var unsequenced: Record {
        if case .sequenced(_, let record) = self { return record }
        return self
    }

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
        case .sequenced: .sequenced
        case .join: .join
        case .accept: .accept
        case .acceptMore: .acceptMore
        case .refuse: .refuse
        case .fileResult: .fileResult
        case .doneAck: .doneAck
        case .stripes: .stripes
        case .joined: .joined
        case .cancel: .cancel
        case .keepalive: .keepalive
        case .candidates: .candidates
        }
    }
}
