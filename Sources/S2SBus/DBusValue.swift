/// A D-Bus value of any type.
///
/// Arrays and dictionaries keep their element types so that empty ones marshal correctly; a value
/// that does not conform to its declared type is rejected before it reaches libdbus.
public indirect enum DBusValue: Sendable, Hashable, CustomStringConvertible {
    case byte(UInt8)
    case boolean(Bool)
    case int16(Int16)
    case uint16(UInt16)
    case int32(Int32)
    case uint32(UInt32)
    case int64(Int64)
    case uint64(UInt64)
    case double(Double)
    case string(String)
    case objectPath(ObjectPath)
    case signature([DBusType])
    case unixFD(UnixFileDescriptor)
    case variant(DBusValue)
    case array(DBusType, [DBusValue])
    case dictionary(key: DBusType, value: DBusType, [DictEntry])
    case structure([DBusValue])

    /// One entry of a dictionary; entries keep their wire order.
    public struct DictEntry: Sendable, Hashable {
        public var key: DBusValue
        public var value: DBusValue
        public init(_ key: DBusValue, _ value: DBusValue) {
            self.key = key
            self.value = value
        }
    }

    /// The type of this value.
    public var type: DBusType {
        switch self {
        case .byte: .byte
        case .boolean: .boolean
        case .int16: .int16
        case .uint16: .uint16
        case .int32: .int32
        case .uint32: .uint32
        case .int64: .int64
        case .uint64: .uint64
        case .double: .double
        case .string: .string
        case .objectPath: .objectPath
        case .signature: .signature
        case .unixFD: .unixFD
        case .variant: .variant
        case .array(let element, _): .array(element)
        case .dictionary(let key, let value, _): .dictionary(key: key, value: value)
        case .structure(let fields): .structure(fields.map(\.type))
        }
    }

    /// Checks that the value can be marshalled: every element of a container has the declared
    /// type, strings hold no NUL, signatures are within the specification's limits.
    public func validate() throws(BusError) {
        switch self {
        case .string(let text):
            guard !text.utf8.contains(0) else { throw BusError.invalidValue("string contains NUL") }
        case .signature(let types):
            guard types.signature.utf8.count <= 255 else { throw BusError.invalidValue("signature longer than 255 bytes") }
        case .variant(let inner):
            try inner.validate()
        case .array(let element, let items):
            for item in items {
                guard item.type == element else {
                    throw BusError.invalidValue("array of \(element) holds a \(item.type)")
                }
                try item.validate()
            }
        case .dictionary(let key, let value, let entries):
            guard key.isBasic else { throw BusError.invalidValue("dictionary key type \(key) is not basic") }
            for entry in entries {
                guard entry.key.type == key, entry.value.type == value else {
                    throw BusError.invalidValue("dictionary a{\(key)\(value)} holds {\(entry.key.type)\(entry.value.type)}")
                }
                try entry.key.validate()
                try entry.value.validate()
            }
        case .structure(let fields):
            guard !fields.isEmpty else { throw BusError.invalidValue("empty structure") }
            for field in fields { try field.validate() }
        default:
            break
        }
    }

    public var description: String {
        switch self {
        case .byte(let v): "byte \(v)"
        case .boolean(let v): "boolean \(v)"
        case .int16(let v): "int16 \(v)"
        case .uint16(let v): "uint16 \(v)"
        case .int32(let v): "int32 \(v)"
        case .uint32(let v): "uint32 \(v)"
        case .int64(let v): "int64 \(v)"
        case .uint64(let v): "uint64 \(v)"
        case .double(let v): "double \(v)"
        case .string(let v): "string \"\(v)\""
        case .objectPath(let v): "objectPath \(v)"
        case .signature(let v): "signature \"\(v.signature)\""
        case .unixFD(let v): "unixFD \(v.rawValue)"
        case .variant(let v): "variant <\(v)>"
        case .array(let t, let items): "array of \(t) [\(items.map(\.description).joined(separator: ", "))]"
        case .dictionary(_, _, let entries):
            "dict {\(entries.map { "\($0.key): \($0.value)" }.joined(separator: ", "))}"
        case .structure(let fields): "struct (\(fields.map(\.description).joined(separator: ", ")))"
        }
    }
}

// Typed access, for reading arguments and properties without force-unwrapping anything.
extension DBusValue {
    public var stringValue: String? { if case .string(let v) = self { v } else { nil } }
    public var objectPathValue: ObjectPath? { if case .objectPath(let v) = self { v } else { nil } }
    public var boolValue: Bool? { if case .boolean(let v) = self { v } else { nil } }
    public var uint32Value: UInt32? { if case .uint32(let v) = self { v } else { nil } }
    public var uint64Value: UInt64? { if case .uint64(let v) = self { v } else { nil } }
    public var int64Value: Int64? { if case .int64(let v) = self { v } else { nil } }
    public var unixFDValue: UnixFileDescriptor? { if case .unixFD(let v) = self { v } else { nil } }
    /// The contents of a variant, or the value itself.
    public var unwrappingVariant: DBusValue { if case .variant(let v) = self { v.unwrappingVariant } else { self } }
    public var arrayValue: [DBusValue]? { if case .array(_, let v) = self { v } else { nil } }
    public var structureValue: [DBusValue]? { if case .structure(let v) = self { v } else { nil } }
    /// An `as` array's strings, or nil for any other value.
    public var stringArrayValue: [String]? {
        guard case .array(.string, let items) = self else { return nil }
        return items.compactMap(\.stringValue)
    }

    /// A dictionary with string keys (the common `a{sv}` shape), or nil for any other value.
    public var stringKeyedValue: [String: DBusValue]? {
        guard case .dictionary(.string, _, let entries) = self else { return nil }
        var result: [String: DBusValue] = [:]
        for entry in entries {
            guard let key = entry.key.stringValue else { return nil }
            result[key] = entry.value
        }
        return result
    }

    /// An `a{sv}` dictionary from string keys and values, sorted by key for stable output.
    public static func vardict(_ entries: [String: DBusValue]) -> DBusValue {
        .dictionary(
            key: .string, value: .variant,
            entries.sorted { $0.key < $1.key }.map { DictEntry(.string($0.key), .variant($0.value)) })
    }

    /// An `as` array.
    public static func strings(_ items: [String]) -> DBusValue { .array(.string, items.map(DBusValue.string)) }
}
