/// The payload of each handshake message (docs/protocol.md, "Handshake"): the sender's in message 1
/// (-> e, es), the receiver's in message 2 (<- e, ee). Both are encrypted, so only the endpoint's
/// holder reads the sender's and only the sender reads the receiver's.
///
/// Layout (8 bytes, big-endian): version u16, flags u16, maximum record size u32. The version
/// comes first in every version, so a HELLO of another version can always be recognized.
public struct Hello: Sendable, Hashable {
    /// The protocol version this implementation speaks.
    public static let currentVersion: UInt16 = 1
    /// The length of a version-1 HELLO.
    public static let encodedLength = 8

    public var version: UInt16
    /// Optional features this side understands (``Feature``). A version-1 side ignores bits it
    /// does not know, so a feature is used only toward a side that set its bit.
    public var flags: UInt16
    /// The largest record the side that sends this HELLO accepts.
    public var maxRecordSize: UInt32

    public init(version: UInt16 = Hello.currentVersion, flags: UInt16 = 0, maxRecordSize: UInt32) {
        self.version = version
        self.flags = flags
        self.maxRecordSize = maxRecordSize
    }

    /// The HELLO that advertises `limits` and every feature this implementation has.
    public init(limits: ProtocolLimits) {
        self.init(flags: Feature.all, maxRecordSize: UInt32(limits.maxRecordSize))
    }

    /// The bits of ``flags`` (docs/protocol.md, "HELLO flags").
    public enum Feature {
        /// 0x0001: this side understands CANCEL(paused) (``CancelCode/paused``): a sender that
        /// stops for now says so, and its receiver shows the transfer as paused.
        public static let pause: UInt16 = 0x0001
        /// 0x0002: this side can stripe a session over several connections (SEQ, STRIPES, JOIN,
        /// JOINED; docs/protocol.md, "Striped sessions").
        public static let stripes: UInt16 = 0x0002
        /// 0x0004: this side runs AES-GCM in hardware and takes sessions whose preamble announces
        /// it (docs/protocol.md, "Session preamble"): a sender whose CPU does too uses it for its
        /// later connections to this endpoint.
        public static let aesGCM: UInt16 = 0x0004
        /// 0x0008: a direct path is wanted (docs/protocol.md, "Relay to direct"): a sender on the
        /// relay route that may reveal its address sets it to ask; the receiver sets it in reply
        /// only when its endpoint allows it too, and then sends CANDIDATES first. Never in ``all``:
        /// each session decides.
        public static let direct: UInt16 = 0x0008
        /// 0x0010: AES-GCM transport after a ChaChaPoly handshake (docs/protocol.md, "Ciphers"):
        /// a sender that announced ChaChaPoly and runs AES-GCM in hardware sets it to ask; a
        /// receiver that does too sets it in reply; when both HELLOs set it, the transport keys
        /// are derived for AES-GCM (``HandshakeState/split(transportCipher:)``). So a sender's
        /// first session with an endpoint need not wait a session to learn the receiver's CPU.
        /// Never in ``all``: each connection decides.
        public static let aesGCMTransport: UInt16 = 0x0010
        /// Every feature this implementation sets in its HELLO: AES-GCM only on a CPU that runs it
        /// in hardware.
        public static let all: UInt16 = pause | stripes | (NoiseCipher.hasHardwareAES ? aesGCM : 0)
    }

    /// The cipher a sender uses for further connections to the author of this HELLO: AES-GCM when
    /// both CPUs run it in hardware, ChaChaPoly otherwise.
    public var preferredCipher: NoiseCipher {
        has(Feature.aesGCM) && NoiseCipher.hasHardwareAES ? .aesGCM : .chaChaPoly
    }

    /// Whether the author of this HELLO set `feature`.
    public func has(_ feature: UInt16) -> Bool {
        flags & feature == feature
    }

    /// The largest record the other side may send to the HELLO's author: its advertised value,
    /// capped at what a Noise message can carry.
    public var effectiveMaxRecordSize: Int {
        min(Int(maxRecordSize), ProtocolLimits.maxRecordSizeCeiling)
    }

    public func encoded() -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Self.encodedLength)
        bytes.appendBigEndian(version)
        bytes.appendBigEndian(flags)
        bytes.appendBigEndian(maxRecordSize)
        return bytes
    }

    /// Parses a handshake payload. Throws ``ProtocolError/unsupportedVersion(_:)`` for any other
    /// version (whatever its length), so the receiver can answer REFUSE(version).
    public static func decode(_ payload: some Collection<UInt8>) throws(ProtocolError) -> Hello {
        let bytes = Array(payload)
        guard bytes.count >= 2 else {
            throw .badLength(what: "HELLO", expected: encodedLength, actual: bytes.count)
        }
        var reader = ByteReader(bytes[...], type: nil)
        let version = (try? reader.u16()) ?? 0
        guard version == currentVersion else { throw .unsupportedVersion(version) }
        guard bytes.count == encodedLength else {
            throw .badLength(what: "HELLO", expected: encodedLength, actual: bytes.count)
        }
        let flags = (try? reader.u16()) ?? 0
        let maxRecordSize = (try? reader.u32()) ?? 0
        guard maxRecordSize >= ProtocolLimits.minimumRecordSizeLimit else {
            throw .recordSizeLimitTooSmall(maxRecordSize)
        }
        return Hello(version: version, flags: flags, maxRecordSize: maxRecordSize)
    }
}
