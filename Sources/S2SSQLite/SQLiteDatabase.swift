import CSQLite
import Synchronization

/// A database file in WAL mode, shared by the daemon's tasks: one writer connection, whose
/// transactions take turns, and reader connections that read beside it, each read a consistent
/// snapshot. Every call is one transaction, committed when its body returns and rolled back when
/// it throws, so that a daemon killed at any instant finds the state before or after a call.
///
/// The calls block their thread for the time of the statements (as file I/O does): bodies are
/// short, and nothing waits on the network inside them.
package final class SQLiteDatabase: Sendable {
    package let path: String
    private let writer: Mutex<SQLiteConnection>
    /// Reader connections not in use; more are opened when all are busy, and at most
    /// ``maxIdleReaders`` are kept.
    private let idleReaders = Mutex<[SQLiteConnection]>([])
    private static let maxIdleReaders = 4

    /// Opens (creating if needed) the database at `path` in WAL mode, with `synchronous=FULL`:
    /// a committed transaction is on disk.
    package init(path: String) throws(SQLiteError) {
        self.path = path
        let connection = try SQLiteConnection(path: path)
        try connection.execute(sql: "PRAGMA journal_mode = WAL")
        try connection.execute(sql: "PRAGMA synchronous = FULL")
        writer = Mutex(connection)
    }

    /// Runs `body` in a write transaction (`BEGIN IMMEDIATE`): one at a time.
    package func write<Result: Sendable>(_ body: (SQLiteConnection) throws -> Result) throws -> Result {
        try writer.withLock { connection in
            try Self.transaction("BEGIN IMMEDIATE", on: connection, body)
        }
    }

    /// Runs `body` in a read transaction on a reader connection: it sees the last committed state
    /// as of its first statement, and cannot write (`PRAGMA query_only`).
    package func read<Result: Sendable>(_ body: (SQLiteConnection) throws -> Result) throws -> Result {
        try withReader { connection in
            try Self.transaction("BEGIN DEFERRED", on: connection, body)
        }
    }

    /// Copies the whole database to a new file at `destination` with SQLite's online backup API
    /// (a consistent copy while the daemon runs).
    package func backUp(to destination: String) throws {
        let copy = try SQLiteConnection(path: destination)
        try withReader { connection in
            try connection.backUp(into: copy, context: "backing up \(path) to \(destination)")
        }
    }

    private func withReader<Result: Sendable>(_ body: (SQLiteConnection) throws -> Result) throws -> Result {
        let connection: SQLiteConnection
        if let idle = idleReaders.withLock({ $0.popLast() }) {
            connection = idle
        } else {
            connection = try SQLiteConnection(path: path)
            try connection.execute(sql: "PRAGMA query_only = 1")
        }
        defer {
            idleReaders.withLock { idle in
                if idle.count < Self.maxIdleReaders { idle.append(connection) }
            }
        }
        return try body(connection)
    }

    private static func transaction<Result>(
        _ begin: String, on connection: SQLiteConnection, _ body: (SQLiteConnection) throws -> Result
    ) throws -> Result {
        try connection.execute(sql: begin)
        do {
            let result = try body(connection)
            try connection.execute(sql: "COMMIT")
            return result
        } catch {
            // After a failed COMMIT or statement the transaction may still be open: end it, so
            // that the connection is clean for the next caller.
            try? connection.execute(sql: "ROLLBACK")
            throw error
        }
    }
}
