/// The first byte of every record (docs/protocol.md, "Records"): 0x1_ are sent only by the sender,
/// 0x2_ only by the receiver, 0x3_ by either. 0x00 is never valid, so zero-filled garbage fails at
/// once.
public enum RecordType: UInt8, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    case offerBegin = 0x10
    case entry = 0x11
    case offerEnd = 0x12
    case data = 0x13
    case fileEnd = 0x14
    case fileAbort = 0x15
    case done = 0x16
    case sequenced = 0x17
    case join = 0x18
    case accept = 0x20
    case acceptMore = 0x21
    case refuse = 0x22
    case fileResult = 0x23
    case doneAck = 0x24
    case stripes = 0x25
    case joined = 0x26
    case cancel = 0x30
    case keepalive = 0x31
    case candidates = 0x32

    /// The only side that may send this type, or `nil` if both may.
    public var sentBy: ProtocolRole? {
        switch rawValue >> 4 {
        case 0x1: .sender
        case 0x2: .receiver
        default: nil
        }
    }

    /// The name used in docs/protocol.md.
    public var description: String {
        switch self {
        case .offerBegin: "OFFER_BEGIN"
        case .entry: "ENTRY"
        case .offerEnd: "OFFER_END"
        case .data: "DATA"
        case .fileEnd: "FILE_END"
        case .fileAbort: "FILE_ABORT"
        case .done: "DONE"
        case .sequenced: "SEQ"
        case .join: "JOIN"
        case .accept: "ACCEPT"
        case .acceptMore: "ACCEPT_MORE"
        case .refuse: "REFUSE"
        case .fileResult: "FILE_RESULT"
        case .doneAck: "DONE_ACK"
        case .stripes: "STRIPES"
        case .joined: "JOINED"
        case .cancel: "CANCEL"
        case .keepalive: "KEEPALIVE"
        case .candidates: "CANDIDATES"
        }
    }
}
