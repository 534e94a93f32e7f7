import CSQLite

/// One connection to a database file, lent by ``SQLiteDatabase`` to one caller at a time for a
/// transaction. Opened in SQLite's serialized mode, so that even a mistaken use from two threads
/// cannot corrupt it; the database's locks keep transactions apart.
package final class SQLiteConnection: @unchecked Sendable {
    private let handle: OpaquePointer

    /// Opens `path` (created if `create`), with a busy timeout and foreign keys enforced.
    init(path: String, readOnly: Bool = false, create: Bool = true) throws(SQLiteError) {
        var flags = SQLITE_OPEN_FULLMUTEX | SQLITE_OPEN_NOFOLLOW
        flags |= readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE
        if create && !readOnly { flags |= SQLITE_OPEN_CREATE }
        var opened: OpaquePointer?
        let status = sqlite3_open_v2(path, &opened, flags, nil)
        guard status == SQLITE_OK, let opened else {
            let error = SQLiteError(opened, code: status, context: "opening \(path)")
            sqlite3_close_v2(opened)
            throw error
        }
        handle = opened
        // Another connection's write transaction (a backup, a second daemon by mistake): wait for it
        // up to 5 s rather than fail at once.
        sqlite3_busy_timeout(handle, 5000)
        sqlite3_extended_result_codes(handle, 1)
        try execute(sql: "PRAGMA foreign_keys = ON")
    }

    deinit { sqlite3_close_v2(handle) }

    /// Runs `sql`: with `arguments`, one statement; without, every statement in it in turn (a
    /// schema).
    package func execute(sql: String, arguments: SQLiteArguments = []) throws(SQLiteError) {
        guard arguments.isEmpty else {
            try prepare(sql: sql).execute(arguments: arguments)
            return
        }
        var remaining = Substring(sql)
        while !remaining.allSatisfy(\.isWhitespace) {
            let (statement, rest) = try prepareFirst(String(remaining))
            try statement?.execute()
            remaining = Substring(rest)
        }
    }

    package func prepare(sql: String) throws(SQLiteError) -> SQLiteStatement {
        let (statement, rest) = try prepareFirst(sql)
        guard let statement, rest.allSatisfy(\.isWhitespace) else {
            throw SQLiteError(code: SQLITE_MISUSE, message: "not exactly one statement", context: sql)
        }
        return statement
    }

    package func fetchAll(sql: String, arguments: SQLiteArguments = []) throws(SQLiteError) -> [SQLiteRow] {
        try prepare(sql: sql).fetchAll(arguments: arguments)
    }

    package func fetchOne(sql: String, arguments: SQLiteArguments = []) throws(SQLiteError) -> SQLiteRow? {
        try prepare(sql: sql).fetchOne(arguments: arguments)
    }

    /// The first column of each row, as `Value`.
    package func fetchValues<Value: SQLiteColumnValue>(
        _: Value.Type, sql: String, arguments: SQLiteArguments = []
    ) throws(SQLiteError) -> [Value] {
        var values: [Value] = []
        for row in try fetchAll(sql: sql, arguments: arguments) { values.append(try row[0]) }
        return values
    }

    /// The first column of the first row; `nil` when there is no row or it holds NULL.
    package func fetchValue<Value: SQLiteColumnValue>(
        _: Value.Type, sql: String, arguments: SQLiteArguments = []
    ) throws(SQLiteError) -> Value? {
        guard let row = try fetchOne(sql: sql, arguments: arguments) else { return nil }
        return try row[0] as Value?
    }

    /// The row id of the last row inserted on this connection.
    package var lastInsertedRowID: Int64 { sqlite3_last_insert_rowid(handle) }

    /// Rows changed by the last INSERT, UPDATE or DELETE on this connection.
    package var changesCount: Int { Int(sqlite3_changes64(handle)) }

    /// Copies the whole database into `destination` with SQLite's online backup.
    func backUp(into destination: SQLiteConnection, context: String) throws(SQLiteError) {
        guard let backup = sqlite3_backup_init(destination.handle, "main", handle, "main") else {
            throw destination.error(sqlite3_errcode(destination.handle), context: context)
        }
        let stepped = sqlite3_backup_step(backup, -1)
        let finished = sqlite3_backup_finish(backup)
        guard stepped == SQLITE_DONE else { throw destination.error(stepped, context: context) }
        guard finished == SQLITE_OK else { throw destination.error(finished, context: context) }
    }

    func error(_ status: Int32, context: String) -> SQLiteError {
        SQLiteError(handle, code: status, context: context)
    }

    /// Prepares the first statement of `sql` (nil if it holds only whitespace or comments), and
    /// returns the text after it.
    private func prepareFirst(_ sql: String) throws(SQLiteError) -> (SQLiteStatement?, String) {
        var statement: OpaquePointer?
        var rest = ""
        let status = sql.withCString { text in
            var tail: UnsafePointer<CChar>?
            let status = sqlite3_prepare_v2(handle, text, -1, &statement, &tail)
            if let tail { rest = String(cString: tail) }
            return status
        }
        guard status == SQLITE_OK else {
            sqlite3_finalize(statement)
            throw error(status, context: sql)
        }
        return (statement.map { SQLiteStatement(connection: self, handle: $0) }, rest)
    }
}
