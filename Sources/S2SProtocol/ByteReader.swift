/// Reads big-endian fields from one record, front to back, throwing
/// ``ProtocolError/truncatedRecord(_:)`` instead of reading past the end. Never traps on input.
struct ByteReader {
    private let bytes: ArraySlice<UInt8>
    private var position: Int
    /// The record being read, for error messages; `nil` outside records (HELLO).
    let type: RecordType?

    init(_ bytes: ArraySlice<UInt8>, type: RecordType?) {
        self.bytes = bytes
        self.position = bytes.startIndex
        self.type = type
    }

    /// Bytes not read yet.
    var remaining: Int { bytes.endIndex - position }

    private func truncated() -> ProtocolError {
        type.map { .truncatedRecord($0) } ?? .badLength(what: "field", expected: position + 1, actual: bytes.count)
    }

    mutating func u8() throws(ProtocolError) -> UInt8 {
        guard remaining >= 1 else { throw truncated() }
        defer { position += 1 }
        return bytes[position]
    }

    mutating func u16() throws(ProtocolError) -> UInt16 { try integer(UInt16.self) }
    mutating func u32() throws(ProtocolError) -> UInt32 { try integer(UInt32.self) }
    mutating func u64() throws(ProtocolError) -> UInt64 { try integer(UInt64.self) }
    mutating func i64() throws(ProtocolError) -> Int64 { Int64(bitPattern: try integer(UInt64.self)) }

    private mutating func integer<T: FixedWidthInteger & UnsignedInteger>(_: T.Type) throws(ProtocolError) -> T {
        let size = MemoryLayout<T>.size
        guard remaining >= size else { throw truncated() }
        var value: T = 0
        for index in position..<(position + size) {
            value = value << 8 | T(bytes[index])
        }
        position += size
        return value
    }

    /// The next `count` bytes, sharing the record's storage.
    mutating func take(_ count: Int) throws(ProtocolError) -> ArraySlice<UInt8> {
        guard count >= 0, remaining >= count else { throw truncated() }
        defer { position += count }
        return bytes[position..<(position + count)]
    }

    /// Everything not read yet, sharing the record's storage.
    mutating func rest() -> ArraySlice<UInt8> {
        defer { position = bytes.endIndex }
        return bytes[position...]
    }

    /// Throws if bytes are left: a record must end exactly after its last field.
    func finish() throws(ProtocolError) {
        guard remaining == 0 else {
            throw type.map { .trailingBytes($0, count: remaining) }
                ?? .badLength(what: "field", expected: position, actual: bytes.count)
        }
    }
}

extension [UInt8] {
    /// Appends `value` in big-endian byte order, without allocating beyond the array's growth.
    mutating func appendBigEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.bigEndian) { append(contentsOf: $0) }
    }
}
