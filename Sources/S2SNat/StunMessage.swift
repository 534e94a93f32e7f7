/// A STUN message (RFC 8489): a 20-byte header (type, length, magic cookie, transaction ID) and
/// attributes. s2s sends Binding requests, to learn the address a NAT maps its socket to, and reads
/// the responses; decoding checks everything a hostile or confused server could get wrong.
public struct StunMessage: Sendable, Equatable {
    /// One attribute, its value without padding.
    public struct Attribute: Sendable, Equatable {
        public let type: UInt16
        public let value: [UInt8]

        public init(type: UInt16, value: [UInt8]) {
            self.type = type
            self.value = value
        }
    }

    /// Message types s2s uses (method Binding; class request, success or error response).
    public enum MessageType {
        public static let bindingRequest: UInt16 = 0x0001
        public static let bindingSuccess: UInt16 = 0x0101
        public static let bindingError: UInt16 = 0x0111
    }

    /// Attribute types s2s reads or writes.
    public enum AttributeType {
        public static let mappedAddress: UInt16 = 0x0001
        public static let errorCode: UInt16 = 0x0009
        public static let xorMappedAddress: UInt16 = 0x0020
        public static let software: UInt16 = 0x8022
        public static let fingerprint: UInt16 = 0x8028
        /// RFC 5780: the server's other address, from which a second Binding request tells how the
        /// NAT maps a socket toward another destination.
        public static let otherAddress: UInt16 = 0x802C
    }

    public static let headerSize = 20
    static let magicCookieBytes: [UInt8] = [0x21, 0x12, 0xA4, 0x42]
    /// FINGERPRINT is the CRC-32 of what precedes it, XORed with "STUN".
    static let fingerprintXor: UInt32 = 0x5354_554E
    /// The longest message s2s reads: a Binding response is a few address attributes long, and
    /// nothing a server sends needs to be stored beyond this.
    public static let maxSize = 1280

    public let type: UInt16
    /// 12 bytes, random for each request; a response carries its request's.
    public let transactionID: [UInt8]
    public let attributes: [Attribute]

    public init(type: UInt16, transactionID: [UInt8], attributes: [Attribute] = []) {
        self.type = type
        self.transactionID = transactionID
        self.attributes = attributes
    }

    /// A Binding request with a fresh random transaction ID.
    public static func bindingRequest() -> StunMessage {
        var generator = SystemRandomNumberGenerator()
        return StunMessage(type: MessageType.bindingRequest, transactionID: (0..<12).map { _ in generator.next() })
    }

    /// The message on the wire, ending in a FINGERPRINT when `fingerprint` is set (it lets a
    /// socket that also carries other traffic tell STUN apart; RFC 8489 section 7).
    public func encoded(fingerprint: Bool = true) -> [UInt8] {
        var body: [UInt8] = []
        for attribute in attributes { Self.append(attribute, to: &body) }
        let length = body.count + (fingerprint ? 8 : 0)
        var bytes = Self.be16(type) + Self.be16(UInt16(length)) + Self.magicCookieBytes + transactionID + body
        if fingerprint {
            let crc = CRC32.checksum(bytes) ^ Self.fingerprintXor
            Self.append(Attribute(type: AttributeType.fingerprint, value: Self.be32(crc)), to: &bytes)
        }
        return bytes
    }

    /// The whole message's size from its first 20 bytes (for reading one off a TCP stream); nil
    /// when they are not a STUN header or announce more than ``maxSize``.
    public static func messageSize(header: some Collection<UInt8>) -> Int? {
        let bytes = Array(header.prefix(headerSize))
        guard bytes.count == headerSize, bytes[0] & 0xC0 == 0, Array(bytes[4..<8]) == magicCookieBytes else { return nil }
        let size = headerSize + (Int(bytes[2]) << 8 | Int(bytes[3]))
        return size <= maxSize ? size : nil
    }

    /// Decodes one whole message: the header's rules (first two bits zero, the magic cookie, a
    /// length that matches and is a multiple of 4), every attribute inside the message, and a
    /// FINGERPRINT, when there is one, last and correct.
    public init(decoding bytes: [UInt8]) throws(StunError) {
        guard bytes.count >= Self.headerSize else { throw .malformed("\(bytes.count) bytes, shorter than a header") }
        guard bytes.count <= Self.maxSize else { throw .malformed("\(bytes.count) bytes, more than \(Self.maxSize)") }
        guard bytes[0] & 0xC0 == 0 else { throw .malformed("the first two bits are not zero") }
        guard Array(bytes[4..<8]) == Self.magicCookieBytes else { throw .malformed("no magic cookie") }
        let length = Int(bytes[2]) << 8 | Int(bytes[3])
        guard length % 4 == 0 else { throw .malformed("length \(length) is not a multiple of 4") }
        guard Self.headerSize + length == bytes.count else {
            throw .malformed("length \(length) but \(bytes.count - Self.headerSize) bytes of attributes")
        }
        var attributes: [Attribute] = []
        var offset = Self.headerSize
        while offset < bytes.count {
            guard bytes.count - offset >= 4 else { throw .malformed("a truncated attribute header") }
            let type = UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
            let valueLength = Int(bytes[offset + 2]) << 8 | Int(bytes[offset + 3])
            let valueStart = offset + 4
            let padded = (valueLength + 3) & ~3
            guard padded <= bytes.count - valueStart else { throw .malformed("attribute 0x\(String(type, radix: 16)) runs past the end") }
            if let last = attributes.last, last.type == AttributeType.fingerprint {
                throw .malformed("an attribute after FINGERPRINT")
            }
            let value = Array(bytes[valueStart..<(valueStart + valueLength)])
            if type == AttributeType.fingerprint {
                guard valueLength == 4 else { throw .malformed("FINGERPRINT of \(valueLength) bytes") }
                let expected = CRC32.checksum(bytes[..<offset]) ^ Self.fingerprintXor
                guard Self.be32(expected) == value else { throw .malformed("wrong FINGERPRINT") }
            }
            attributes.append(Attribute(type: type, value: value))
            offset = valueStart + padded
        }
        self.init(type: UInt16(bytes[0]) << 8 | UInt16(bytes[1]), transactionID: Array(bytes[8..<20]), attributes: attributes)
    }

    /// The first attribute of a type.
    public func attribute(_ type: UInt16) -> [UInt8]? {
        attributes.first { $0.type == type }?.value
    }

    /// The reflexive address the server saw: XOR-MAPPED-ADDRESS, or MAPPED-ADDRESS from an older
    /// (RFC 3489) server; nil when there is neither.
    public func mappedAddress() throws(StunError) -> StunAddress? {
        if let value = attribute(AttributeType.xorMappedAddress) { return try StunAddress(attribute: value, xorWith: transactionID) }
        if let value = attribute(AttributeType.mappedAddress) { return try StunAddress(attribute: value, xorWith: nil) }
        return nil
    }

    /// OTHER-ADDRESS (RFC 5780), when the server has a second address.
    public func otherAddress() throws(StunError) -> StunAddress? {
        guard let value = attribute(AttributeType.otherAddress) else { return nil }
        return try StunAddress(attribute: value, xorWith: nil)
    }

    /// ERROR-CODE's number (300 to 699) and reason phrase.
    public func errorCode() throws(StunError) -> (code: Int, reason: String)? {
        guard let value = attribute(AttributeType.errorCode) else { return nil }
        guard value.count >= 4 else { throw .malformed("ERROR-CODE of \(value.count) bytes") }
        let code = Int(value[2] & 0x07) * 100 + Int(value[3])
        // The reason is for people: keep it short and printable.
        let reason = String(decoding: value[4...].prefix(128), as: UTF8.self).filter { !$0.isASCII || ($0.asciiValue ?? 0) >= 0x20 }
        return (code, reason)
    }

    private static func append(_ attribute: Attribute, to bytes: inout [UInt8]) {
        bytes += be16(attribute.type) + be16(UInt16(attribute.value.count)) + attribute.value
        bytes += [UInt8](repeating: 0, count: (4 - attribute.value.count % 4) % 4)
    }

    private static func be16(_ value: UInt16) -> [UInt8] { [UInt8(value >> 8), UInt8(value & 0xFF)] }
    private static func be32(_ value: UInt32) -> [UInt8] { [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)] }
}
