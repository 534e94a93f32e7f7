/// Every bound of the peer protocol (docs/protocol.md, "Bounds"): the fixed ones as static
/// constants, which no side may raise, and the ones a side chooses for what it accepts as
/// properties. The decoder and ``SessionValidator`` enforce all of them, so a hostile peer cannot
/// make a side buffer, allocate or loop beyond them.
public struct ProtocolLimits: Sendable, Hashable {
    /// The largest Noise message (Noise specification, section 3; the 2-byte length prefix).
    public static let maxNoiseMessageLength = 65535
    /// The AEAD tag that every transport message carries after its record.
    public static let tagLength = 16
    /// The largest record: a Noise message minus the tag.
    public static let maxRecordSizeCeiling = maxNoiseMessageLength - tagLength
    /// The smallest maximum record size a HELLO may advertise: large enough for an ENTRY with the
    /// longest path (26 + 4096 bytes) and an ACCEPT with hundreds of resume pairs.
    public static let minimumRecordSizeLimit = 8192
    /// The longest path, in bytes (Linux's PATH_MAX).
    public static let maxPathLength = 4096
    /// The longest path component, in bytes (Linux's NAME_MAX).
    public static let maxComponentLength = 255
    /// The largest file size, total or offset: 2^63-1, the largest `off_t`.
    public static let maxFileSize = UInt64(Int64.max)
    /// The default for ``maxEntries``.
    public static let defaultMaxEntries = 65_536
    /// The default for ``maxOfferPathBytes``: 8 MiB, an average of 128 bytes over 65,536 paths.
    public static let defaultMaxOfferPathBytes = 8 << 20

    /// The largest record this side accepts, advertised in its HELLO; clamped to
    /// ``minimumRecordSizeLimit``...``maxRecordSizeCeiling``.
    public var maxRecordSize: Int
    /// The most entries one offer may have (OFFER_BEGIN's count); at least 1, at most 2^32-1.
    public var maxEntries: Int
    /// The most bytes all paths of one offer may add up to; at least ``maxPathLength``.
    public var maxOfferPathBytes: Int
    /// From connecting (or accepting) until the handshake is complete.
    public var handshakeTimeout: Duration
    /// From the end of the handshake until OFFER_END has been received (receiver).
    public var offerTimeout: Duration
    /// The longest time without receiving a complete Noise message.
    public var idleTimeout: Duration
    /// Send KEEPALIVE after this long without sending anything.
    public var keepaliveInterval: Duration

    public init(
        maxRecordSize: Int = ProtocolLimits.maxRecordSizeCeiling,
        maxEntries: Int = ProtocolLimits.defaultMaxEntries,
        maxOfferPathBytes: Int = ProtocolLimits.defaultMaxOfferPathBytes,
        handshakeTimeout: Duration = .seconds(10),
        offerTimeout: Duration = .seconds(120),
        idleTimeout: Duration = .seconds(60),
        keepaliveInterval: Duration = .seconds(15)
    ) {
        self.maxRecordSize = min(max(maxRecordSize, Self.minimumRecordSizeLimit), Self.maxRecordSizeCeiling)
        self.maxEntries = min(max(maxEntries, 1), Int(UInt32.max))
        self.maxOfferPathBytes = max(maxOfferPathBytes, Self.maxPathLength)
        self.handshakeTimeout = handshakeTimeout
        self.offerTimeout = offerTimeout
        self.idleTimeout = idleTimeout
        self.keepaliveInterval = keepaliveInterval
    }

    /// The defaults of docs/protocol.md.
    public static let `default` = ProtocolLimits()
}
