/// A single complete D-Bus type, as one element of a type signature.
///
/// Needed beside `DBusValue` because an empty array or dictionary still carries its element type
/// on the wire, and because method tables declare argument types before any value exists.
public indirect enum DBusType: Sendable, Hashable, CustomStringConvertible {
    case byte, boolean, int16, uint16, int32, uint32, int64, uint64, double
    case string, objectPath, signature, unixFD
    case variant
    case array(DBusType)
    case dictionary(key: DBusType, value: DBusType)
    case structure([DBusType])

    /// The signature text of this one type, e.g. `a{sv}`.
    public var signature: String {
        switch self {
        case .byte: "y"
        case .boolean: "b"
        case .int16: "n"
        case .uint16: "q"
        case .int32: "i"
        case .uint32: "u"
        case .int64: "x"
        case .uint64: "t"
        case .double: "d"
        case .string: "s"
        case .objectPath: "o"
        case .signature: "g"
        case .unixFD: "h"
        case .variant: "v"
        case .array(let element): "a" + element.signature
        case .dictionary(let key, let value): "a{" + key.signature + value.signature + "}"
        case .structure(let fields): "(" + fields.map(\.signature).joined() + ")"
        }
    }

    public var description: String { signature }

    /// Whether the type is basic (may be a dictionary key).
    public var isBasic: Bool {
        switch self {
        case .variant, .array, .dictionary, .structure: false
        default: true
        }
    }

    /// Parses a signature of any number of complete types.
    ///
    /// Enforces the specification's limits (255 bytes, 32 nested arrays, 32 nested structures), so a
    /// signature that parses here is one libdbus accepts.
    public static func parse(_ signature: String) throws(DBusTypeError) -> [DBusType] {
        let bytes = Array(signature.utf8)
        guard bytes.count <= 255 else { throw DBusTypeError(signature, "longer than 255 bytes") }
        var parser = Parser(bytes: bytes, text: signature)
        var types: [DBusType] = []
        while parser.position < bytes.count {
            types.append(try parser.parseOne(arrayDepth: 0, structDepth: 0))
        }
        return types
    }

    /// Parses a signature that must hold exactly one complete type.
    public static func parseSingle(_ signature: String) throws(DBusTypeError) -> DBusType {
        let types = try parse(signature)
        guard types.count == 1, let only = types.first else {
            throw DBusTypeError(signature, "not exactly one complete type")
        }
        return only
    }

    private struct Parser {
        let bytes: [UInt8]
        let text: String
        var position = 0

        mutating func parseOne(arrayDepth: Int, structDepth: Int) throws(DBusTypeError) -> DBusType {
            guard position < bytes.count else { throw DBusTypeError(text, "ends inside a type") }
            let code = bytes[position]
            position += 1
            switch code {
            case UInt8(ascii: "y"): return .byte
            case UInt8(ascii: "b"): return .boolean
            case UInt8(ascii: "n"): return .int16
            case UInt8(ascii: "q"): return .uint16
            case UInt8(ascii: "i"): return .int32
            case UInt8(ascii: "u"): return .uint32
            case UInt8(ascii: "x"): return .int64
            case UInt8(ascii: "t"): return .uint64
            case UInt8(ascii: "d"): return .double
            case UInt8(ascii: "s"): return .string
            case UInt8(ascii: "o"): return .objectPath
            case UInt8(ascii: "g"): return .signature
            case UInt8(ascii: "h"): return .unixFD
            case UInt8(ascii: "v"): return .variant
            case UInt8(ascii: "a"):
                guard arrayDepth < 32 else { throw DBusTypeError(text, "arrays nested deeper than 32") }
                if position < bytes.count, bytes[position] == UInt8(ascii: "{") {
                    position += 1
                    let key = try parseOne(arrayDepth: arrayDepth + 1, structDepth: structDepth)
                    guard key.isBasic else { throw DBusTypeError(text, "dictionary key is not a basic type") }
                    let value = try parseOne(arrayDepth: arrayDepth + 1, structDepth: structDepth)
                    guard position < bytes.count, bytes[position] == UInt8(ascii: "}") else {
                        throw DBusTypeError(text, "dictionary entry does not end after two types")
                    }
                    position += 1
                    return .dictionary(key: key, value: value)
                }
                return .array(try parseOne(arrayDepth: arrayDepth + 1, structDepth: structDepth))
            case UInt8(ascii: "("):
                guard structDepth < 32 else { throw DBusTypeError(text, "structures nested deeper than 32") }
                var fields: [DBusType] = []
                while true {
                    guard position < bytes.count else { throw DBusTypeError(text, "unclosed structure") }
                    if bytes[position] == UInt8(ascii: ")") {
                        position += 1
                        break
                    }
                    fields.append(try parseOne(arrayDepth: arrayDepth, structDepth: structDepth + 1))
                }
                guard !fields.isEmpty else { throw DBusTypeError(text, "empty structure") }
                return .structure(fields)
            default:
                throw DBusTypeError(text, "unexpected character at offset \(position - 1)")
            }
        }
    }
}

/// A signature that is not valid D-Bus.
public struct DBusTypeError: Error, Sendable, CustomStringConvertible {
    public let signature: String
    public let reason: String

    init(_ signature: String, _ reason: String) {
        self.signature = signature
        self.reason = reason
    }

    public var description: String { "invalid D-Bus signature \"\(signature)\": \(reason)" }
}

extension Array where Element == DBusType {
    /// The concatenated signature of several complete types.
    public var signature: String { map(\.signature).joined() }
}
