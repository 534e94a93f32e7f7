import CSQLite

/// A statement's parameters, in order: `nil` binds NULL.
package typealias SQLiteArguments = [(any SQLiteBindable)?]

/// A prepared statement, run as often as needed within the connection's lending (a write or a
/// read of ``SQLiteDatabase``); finalized when released.
package final class SQLiteStatement {
    private let handle: OpaquePointer
    private let connection: SQLiteConnection
    let sql: String

    init(connection: SQLiteConnection, handle: OpaquePointer) {
        self.connection = connection
        self.handle = handle
        sql = sqlite3_sql(handle).map { String(cString: $0) } ?? ""
    }

    deinit { sqlite3_finalize(handle) }

    /// Runs the statement to its end, ignoring rows.
    package func execute(arguments: SQLiteArguments = []) throws(SQLiteError) {
        try run(arguments) { _ in }
    }

    package func fetchAll(arguments: SQLiteArguments = []) throws(SQLiteError) -> [SQLiteRow] {
        var rows: [SQLiteRow] = []
        try run(arguments) { rows.append($0) }
        return rows
    }

    package func fetchOne(arguments: SQLiteArguments = []) throws(SQLiteError) -> SQLiteRow? {
        var first: SQLiteRow?
        try run(arguments) { row in if first == nil { first = row } }
        return first
    }

    /// Binds `arguments`, steps through every row, and resets the statement for the next run.
    private func run(_ arguments: SQLiteArguments, _ each: (SQLiteRow) -> Void) throws(SQLiteError) {
        defer {
            sqlite3_reset(handle)
            sqlite3_clear_bindings(handle)
        }
        try bind(arguments)
        // The columns are read after the first step: a statement prepared before another
        // connection changed the schema is prepared again by that step (`SELECT *` then has the
        // new columns).
        var names: [String]?
        while true {
            let status = sqlite3_step(handle)
            switch status {
            case SQLITE_ROW:
                let columns = names ?? (0..<sqlite3_column_count(handle)).map { sqlite3_column_name(handle, $0).map { String(cString: $0) } ?? "" }
                names = columns
                each(SQLiteRow(columns: columns, values: (0..<columns.count).map { column(Int32($0)) }))
            case SQLITE_DONE:
                return
            default:
                throw connection.error(status, context: sql)
            }
        }
    }

    private func bind(_ arguments: SQLiteArguments) throws(SQLiteError) {
        let expected = Int(sqlite3_bind_parameter_count(handle))
        guard arguments.count == expected else {
            throw SQLiteError(code: SQLITE_RANGE, message: "\(arguments.count) arguments for \(expected) parameters", context: sql)
        }
        for (offset, argument) in arguments.enumerated() {
            let index = Int32(offset + 1)
            let status: Int32
            switch argument?.sqliteValue ?? .null {
            case .null:
                status = sqlite3_bind_null(handle, index)
            case .integer(let value):
                status = sqlite3_bind_int64(handle, index, value)
            case .real(let value):
                status = sqlite3_bind_double(handle, index, value)
            case .text(let value):
                status = value.utf8CString.withUnsafeBufferPointer {
                    sqlite3_bind_text64(handle, index, $0.baseAddress, UInt64($0.count - 1), s2s_sqlite_transient(), UInt8(SQLITE_UTF8))
                }
            case .blob(let bytes):
                // An empty buffer may have no address, and a NULL pointer would bind NULL.
                status = bytes.isEmpty
                    ? sqlite3_bind_zeroblob(handle, index, 0)
                    : bytes.withUnsafeBytes { sqlite3_bind_blob64(handle, index, $0.baseAddress, UInt64($0.count), s2s_sqlite_transient()) }
            }
            guard status == SQLITE_OK else { throw connection.error(status, context: "binding parameter \(index) of \(sql)") }
        }
    }

    private func column(_ index: Int32) -> SQLiteValue {
        switch sqlite3_column_type(handle, index) {
        case SQLITE_INTEGER:
            return .integer(sqlite3_column_int64(handle, index))
        case SQLITE_FLOAT:
            return .real(sqlite3_column_double(handle, index))
        case SQLITE_TEXT:
            let count = Int(sqlite3_column_bytes(handle, index))
            guard let text = sqlite3_column_text(handle, index) else { return .text("") }
            return .text(String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self))
        case SQLITE_BLOB:
            let count = Int(sqlite3_column_bytes(handle, index))
            guard let bytes = sqlite3_column_blob(handle, index), count > 0 else { return .blob([]) }
            return .blob(Array(UnsafeRawBufferPointer(start: bytes, count: count)))
        default:
            return .null
        }
    }
}
