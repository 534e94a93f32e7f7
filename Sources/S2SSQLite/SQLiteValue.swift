package import FoundationEssentials

/// One value as SQLite stores it: its five storage classes.
package enum SQLiteValue: Sendable, Equatable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])

    /// The storage class's name, for error messages.
    var kind: String {
        switch self {
        case .null: "NULL"
        case .integer: "an integer"
        case .real: "a real"
        case .text: "text"
        case .blob: "a blob"
        }
    }
}

/// A Swift value that can be bound to a statement's parameter.
package protocol SQLiteBindable {
    var sqliteValue: SQLiteValue { get }
}

/// A Swift value that a column can be read as; a value of another storage class is an error (a
/// damaged or foreign row is refused, never trapped on).
package protocol SQLiteColumnValue {
    init(sqliteValue: SQLiteValue) throws(SQLiteError)
}

extension SQLiteColumnValue {
    static func mismatch(_ value: SQLiteValue) -> SQLiteError {
        SQLiteError(code: 20 /* SQLITE_MISMATCH */, message: "holds \(value.kind), not \(Self.self)", context: "reading a column")
    }
}

extension Int64: SQLiteBindable, SQLiteColumnValue {
    package var sqliteValue: SQLiteValue { .integer(self) }
    package init(sqliteValue: SQLiteValue) throws(SQLiteError) {
        guard case .integer(let value) = sqliteValue else { throw Self.mismatch(sqliteValue) }
        self = value
    }
}

extension Int: SQLiteBindable, SQLiteColumnValue {
    package var sqliteValue: SQLiteValue { .integer(Int64(self)) }
    package init(sqliteValue: SQLiteValue) throws(SQLiteError) {
        self = Int(try Int64(sqliteValue: sqliteValue))
    }
}

extension Bool: SQLiteBindable, SQLiteColumnValue {
    package var sqliteValue: SQLiteValue { .integer(self ? 1 : 0) }
    package init(sqliteValue: SQLiteValue) throws(SQLiteError) {
        self = try Int64(sqliteValue: sqliteValue) != 0
    }
}

extension String: SQLiteBindable, SQLiteColumnValue {
    package var sqliteValue: SQLiteValue { .text(self) }
    package init(sqliteValue: SQLiteValue) throws(SQLiteError) {
        guard case .text(let value) = sqliteValue else { throw Self.mismatch(sqliteValue) }
        self = value
    }
}

extension Array: SQLiteBindable, SQLiteColumnValue where Element == UInt8 {
    package var sqliteValue: SQLiteValue { .blob(self) }
    package init(sqliteValue: SQLiteValue) throws(SQLiteError) {
        guard case .blob(let value) = sqliteValue else { throw Self.mismatch(sqliteValue) }
        self = value
    }
}

extension Data: SQLiteBindable, SQLiteColumnValue {
    package var sqliteValue: SQLiteValue { .blob(Array(self)) }
    package init(sqliteValue: SQLiteValue) throws(SQLiteError) {
        self = Data(try [UInt8](sqliteValue: sqliteValue))
    }
}

/// NULL is `nil`, both ways.
extension Optional: SQLiteBindable where Wrapped: SQLiteBindable {
    package var sqliteValue: SQLiteValue { self?.sqliteValue ?? .null }
}

extension Optional: SQLiteColumnValue where Wrapped: SQLiteColumnValue {
    package init(sqliteValue: SQLiteValue) throws(SQLiteError) {
        self = sqliteValue == .null ? nil : try Wrapped(sqliteValue: sqliteValue)
    }
}
