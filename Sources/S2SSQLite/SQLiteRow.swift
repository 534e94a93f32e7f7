/// One row of a result, read by column name or index. Reading a column as a type it does not
/// hold (NULL as a non-optional, text as an integer) throws, naming the column.
package struct SQLiteRow: Sendable {
    let columns: [String]
    let values: [SQLiteValue]

    package subscript<Value: SQLiteColumnValue>(_ column: String) -> Value {
        get throws(SQLiteError) {
            guard let index = columns.firstIndex(of: column) else {
                throw SQLiteError(code: 1 /* SQLITE_ERROR */, message: "no such column in the result", context: "reading column \(column)")
            }
            return try value(at: index, named: column)
        }
    }

    package subscript<Value: SQLiteColumnValue>(_ index: Int) -> Value {
        get throws(SQLiteError) {
            guard values.indices.contains(index) else {
                throw SQLiteError(code: 25 /* SQLITE_RANGE */, message: "the result has \(values.count) columns", context: "reading column \(index)")
            }
            return try value(at: index, named: columns[index])
        }
    }

    private func value<Value: SQLiteColumnValue>(at index: Int, named name: String) throws(SQLiteError) -> Value {
        do {
            return try Value(sqliteValue: values[index])
        } catch {
            throw SQLiteError(code: error.code, message: error.message, context: "reading column \(name)")
        }
    }
}
