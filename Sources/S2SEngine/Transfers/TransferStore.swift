import S2SCore
import FoundationEssentials
import S2SSQLite

/// The `transfer` table (docs/queue.md): every transfer's number, the send queue and the
/// history. Shares the daemon's database; each call is one transaction, so a daemon killed at any
/// instant finds each row as it was before or after a change.
final class TransferStore: Sendable {
    /// One row: what a transfer was asked to do and how far it got.
    struct Record: Sendable, Equatable {
        /// The row's number (the engine's key) and the owner's (what the bus shows).
        var number: Int64 = 0
        var ownerNumber: Int64 = 0
        var direction: Transfer.Direction
        var owner: UInt32
        var route: String
        var endpointPath = "/"
        var destination = ""
        var sources: [String] = []
        var names: [String] = []
        var digestAlgorithm: String
        /// Send side: the options as JSON (`SendOptions`), and the key of its token.
        var options: SendOptions?
        var tokenKey: Data?
        var progress: Transfer.Progress
        var created: UInt64
    }

    private let database: SQLiteDatabase

    init(database: SQLiteDatabase) {
        self.database = database
    }

    /// Inserts a new transfer; returns its numbers, never used before: the row's, and its owner's
    /// next (`OwnerNumbers`).
    func insert(_ record: Record) throws -> (number: Int64, ownerNumber: Int64) {
        try database.write { db in
            let ownerNumber = try OwnerNumbers.next(.transfer, owner: record.owner, in: db)
            try db.execute(
                sql: """
                    INSERT INTO transfer (direction, owner, owner_number, state, route, endpoint_path, destination, sources, names,
                                          digest_algorithm, options, token_key, priority, bytes_total, files_total, created_usec)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    record.direction.rawValue, Int64(record.owner), ownerNumber, record.progress.state.rawValue, record.route,
                    record.endpointPath, record.destination, try Self.json(record.sources), try Self.json(record.names), record.digestAlgorithm,
                    try record.options.map(Self.json), record.tokenKey, Int64(record.options?.priority ?? 0),
                    Int64(clamping: record.progress.bytesTotal), Int64(clamping: record.progress.filesTotal),
                    Int64(clamping: record.created),
                ])
            return (db.lastInsertedRowID, ownerNumber)
        }
    }

    /// Records what changed: the state, the queue's counters, the progress.
    func update(number: Int64, _ progress: Transfer.Progress) throws {
        try database.write { db in
            try db.execute(
                sql: """
                    UPDATE transfer SET state = ?, attempts = ?, next_attempt_usec = ?, last_error = ?, error = ?, digest = ?,
                        bytes_done = ?, bytes_total = ?, bytes_resumed = ?, files_done = ?, files_total = ?, finished_usec = ?,
                        rate_limit = ?, kept_sources = ?
                    WHERE number = ?
                    """,
                arguments: [
                    progress.state.rawValue, Int64(progress.attempts), Int64(clamping: progress.nextAttempt), progress.lastError,
                    progress.error, progress.digest, Int64(clamping: progress.bytesDone), Int64(clamping: progress.bytesTotal),
                    Int64(clamping: progress.bytesResumed), Int64(clamping: progress.filesDone), Int64(clamping: progress.filesTotal),
                    Int64(clamping: progress.finishedTimestamp), Int64(clamping: progress.rateLimit),
                    try Self.json(progress.keptSources), number,
                ])
        }
    }

    /// Transfers that had not finished, by number.
    func unfinished() throws -> [Record] {
        try fetch("SELECT * FROM transfer WHERE state NOT IN ('done', 'failed', 'cancelled') ORDER BY number")
    }

    /// Finished transfers, those of `owner` (nil: everyone's), newest last.
    func finished(owner: UInt32?, after: UInt64 = 0) throws -> [Record] {
        if let owner {
            return try fetch(
                "SELECT * FROM transfer WHERE state IN ('done', 'failed', 'cancelled') AND finished_usec > ? AND owner = ? ORDER BY number",
                [Int64(clamping: after), Int64(owner)])
        }
        return try fetch(
            "SELECT * FROM transfer WHERE state IN ('done', 'failed', 'cancelled') AND finished_usec > ? ORDER BY number",
            [Int64(clamping: after)])
    }

    /// Deletes the finished transfers of `owner` (nil: everyone's); returns their numbers.
    func clearFinished(owner: UInt32?) throws -> [Int64] {
        try database.write { db in
            let condition = "state IN ('done', 'failed', 'cancelled')" + (owner == nil ? "" : " AND owner = \(owner ?? 0)")
            let numbers = try db.fetchValues(Int64.self, sql: "SELECT number FROM transfer WHERE \(condition)")
            try db.execute(sql: "DELETE FROM transfer WHERE \(condition)")
            return numbers
        }
    }

    /// Deletes the transfers that finished before `time`; returns how many.
    func purge(finishedBefore time: UInt64) throws -> Int {
        try database.write { db in
            try db.execute(
                sql: "DELETE FROM transfer WHERE state IN ('done', 'failed', 'cancelled') AND finished_usec < ?",
                arguments: [Int64(clamping: time)])
            return db.changesCount
        }
    }

    /// The highest number given so far (0: none).
    func lastNumber() throws -> Int64 {
        try database.read { db in
            try db.fetchValue(Int64.self, sql: "SELECT seq FROM sqlite_sequence WHERE name = 'transfer'") ?? 0
        }
    }

    /// The highest number given so far to each owner.
    func lastOwnerNumbers() throws -> [UInt32: Int64] {
        try database.read { db in try OwnerNumbers.last(.transfer, in: db) }
    }

    // MARK: Rows

    private func fetch(_ sql: String, _ arguments: SQLiteArguments = []) throws -> [Record] {
        try database.read { db in
            try db.fetchAll(sql: sql, arguments: arguments).compactMap(Self.record(from:))
        }
    }

    /// A row as a record; nil for a row this daemon cannot read (a state or direction a newer
    /// version wrote), which is left alone.
    private static func record(from row: SQLiteRow) throws -> Record? {
        guard let direction = Transfer.Direction(rawValue: try row["direction"]), let state = Transfer.State(rawValue: try row["state"])
        else {
            return nil
        }
        func unsigned(_ column: String) throws -> UInt64 { UInt64(clamping: try row[column] as Int64) }
        var progress = Transfer.Progress(state: state)
        progress.attempts = UInt32(clamping: try row["attempts"] as Int64)
        progress.nextAttempt = try unsigned("next_attempt_usec")
        progress.lastError = try row["last_error"]
        progress.error = try row["error"]
        progress.digest = try row["digest"]
        progress.bytesDone = try unsigned("bytes_done")
        progress.bytesTotal = try unsigned("bytes_total")
        progress.bytesResumed = try unsigned("bytes_resumed")
        progress.filesDone = try unsigned("files_done")
        progress.filesTotal = try unsigned("files_total")
        progress.finishedTimestamp = try unsigned("finished_usec")
        progress.keptSources = try decodeStrings(try row["kept_sources"])
        let optionsText: String? = try row["options"]
        var options = try optionsText.map { try JSONDecoder().decode(SendOptions.self, from: Data($0.utf8)) }
        if options != nil { options?.priority = Int32(clamping: try row["priority"] as Int64) }
        // A limit set while the send ran replaces the one it was queued with.
        let changedRate: Int64? = try row["rate_limit"]
        if let changedRate { options?.rateLimit = UInt64(clamping: changedRate) }
        progress.rateLimit = options?.rateLimit ?? UInt64(clamping: changedRate ?? 0)
        return Record(
            number: try row["number"], ownerNumber: try row["owner_number"], direction: direction,
            owner: UInt32(clamping: try row["owner"] as Int64), route: try row["route"], endpointPath: try row["endpoint_path"],
            destination: try row["destination"], sources: try decodeStrings(try row["sources"]), names: try decodeStrings(try row["names"]),
            digestAlgorithm: try row["digest_algorithm"], options: options, tokenKey: try row["token_key"], progress: progress,
            created: try unsigned("created_usec"))
    }

    private static func json<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    private static func decodeStrings(_ text: String) throws -> [String] {
        try JSONDecoder().decode([String].self, from: Data(text.utf8))
    }
}
