/// A path inside an endpoint, as an offer names it, checked against every rule of
/// docs/protocol.md ("Paths") so that nothing built from it can leave the endpoint directory:
///
/// - 1 to 4096 bytes of valid UTF-8, components separated by `/`, each 1 to 255 bytes;
/// - relative: no leading `/`, no empty component (`a//b`, a trailing `/`), no `.` or `..`;
/// - no C0 control character (including NUL), no DEL, no C1 control character (U+0080-U+009F),
///   which keeps names safe to print on a terminal;
/// - the first component is not `.s2s-partial`, the receiver's partial area.
///
/// Equality and hashing compare the UTF-8 bytes, as Linux file systems do; Swift's `String`
/// equality would merge names that differ only in Unicode normalization. No normalization is ever
/// applied.
public struct RelativePath: Sendable, Hashable, CustomStringConvertible {
    /// The name of the receiver's partial area, which no offered path may start with.
    public static let reservedFirstComponent = ".s2s-partial"

    /// The validated path.
    public let string: String

    /// Validates `string`.
    public init(_ string: String) throws(ProtocolError) {
        try Self.check(string)
        self.string = string
    }

    /// Validates raw bytes from the wire, including that they are UTF-8.
    public init(validating bytes: some Collection<UInt8>) throws(ProtocolError) {
        guard !bytes.isEmpty else { throw .emptyPath }
        guard bytes.count <= ProtocolLimits.maxPathLength else { throw .pathTooLong(bytes.count) }
        guard let string = String(validating: bytes, as: UTF8.self) else { throw .invalidUTF8 }
        try Self.check(string)
        self.string = string
    }

    /// For parents and other paths derived from a valid one.
    init(unchecked string: String) {
        self.string = string
    }

    /// The length in bytes, as encoded on the wire.
    public var byteCount: Int { string.utf8.count }

    /// The components, in order; never empty, none empty.
    public var components: [Substring] {
        string.split(separator: "/", omittingEmptySubsequences: false)
    }

    /// The last component (the whole path for a top-level entry).
    public var lastComponent: Substring {
        guard let slash = string.utf8.lastIndex(of: UInt8(ascii: "/")) else { return string[...] }
        return string[string.utf8.index(after: slash)...]
    }

    /// The parent directory, or `nil` for a top-level entry.
    public var parent: RelativePath? {
        guard let slash = string.utf8.lastIndex(of: UInt8(ascii: "/")) else { return nil }
        return RelativePath(unchecked: String(string[..<slash]))
    }

    public var description: String { string }

    public static func == (lhs: RelativePath, rhs: RelativePath) -> Bool {
        lhs.string.utf8.elementsEqual(rhs.string.utf8)
    }

    public func hash(into hasher: inout Hasher) {
        let done: Void? = string.utf8.withContiguousStorageIfAvailable { hasher.combine(bytes: UnsafeRawBufferPointer($0)) }
        if done == nil {
            for byte in string.utf8 { hasher.combine(byte) }
        }
        hasher.combine(0xFF as UInt8)  // never part of UTF-8: terminates the byte string
    }

    /// ``reservedFirstComponent`` as bytes, made once rather than for every path checked.
    private static let reservedBytes = Array(reservedFirstComponent.utf8)

    /// Every rule except UTF-8 validity, which a `String` already has.
    private static func check(_ string: String) throws(ProtocolError) {
        let bytes = string.utf8
        guard !bytes.isEmpty else { throw .emptyPath }
        guard bytes.count <= ProtocolLimits.maxPathLength else { throw .pathTooLong(bytes.count) }
        guard bytes.first != UInt8(ascii: "/") else { throw .absolutePath }

        var componentLength = 0
        var componentIsDots = true
        var isFirstComponent = true
        var firstComponentMatchesReserved = true
        let reserved = reservedBytes
        var previous: UInt8 = 0

        func endComponent() throws(ProtocolError) {
            guard componentLength > 0 else { throw .emptyComponent }
            guard componentLength <= ProtocolLimits.maxComponentLength else { throw .componentTooLong(componentLength) }
            guard !(componentIsDots && componentLength <= 2) else { throw .dotComponent }
            if isFirstComponent && firstComponentMatchesReserved && componentLength == reserved.count {
                throw .reservedName
            }
        }

        for byte in bytes {
            if byte < 0x20 || byte == 0x7F {
                throw .controlCharacter(UInt32(byte))
            }
            // In valid UTF-8, U+0080-U+009F is exactly 0xC2 followed by 0x80-0x9F.
            if previous == 0xC2 && byte <= 0x9F {
                throw .controlCharacter(UInt32(byte))
            }
            previous = byte
            if byte == UInt8(ascii: "/") {
                try endComponent()
                isFirstComponent = false
                componentLength = 0
                componentIsDots = true
                continue
            }
            if isFirstComponent && firstComponentMatchesReserved {
                firstComponentMatchesReserved = componentLength < reserved.count && reserved[componentLength] == byte
            }
            componentLength += 1
            componentIsDots = componentIsDots && byte == UInt8(ascii: ".")
        }
        try endComponent()
    }
}
