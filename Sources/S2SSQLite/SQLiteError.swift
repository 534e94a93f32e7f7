import CSQLite

/// A failed SQLite call, or a row that does not hold what a column should: SQLite's extended
/// result code, its message, and what was being done.
package struct SQLiteError: Error, CustomStringConvertible, Equatable {
    /// The extended result code (`sqlite3_extended_errcode`).
    package let code: Int32
    package let message: String
    /// What s2s was doing: the statement, or the step (opening, backing up, reading a column).
    package let context: String

    package init(code: Int32, message: String, context: String) {
        self.code = code
        self.message = message
        self.context = context
    }

    /// The error of the last call on `handle`.
    init(_ handle: OpaquePointer?, code: Int32, context: String) {
        let extended = handle.map { sqlite3_extended_errcode($0) } ?? code
        let text = handle.flatMap { sqlite3_errmsg($0) }.map { String(cString: $0) } ?? String(cString: sqlite3_errstr(code))
        self.init(code: extended, message: text, context: context)
    }

    package var description: String { "\(context): \(message) (SQLite error \(code))" }
}
