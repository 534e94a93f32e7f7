import FoundationEssentials
import S2SSQLite
import S2SCore

/// The endpoints table in SQLite (WAL, synchronous=FULL): the daemon's memory across restarts.
///
/// Each change is one transaction, so a daemon killed at any instant finds either the state
/// before the change or the state after it.
final class EndpointStore: Sendable {
    let database: SQLiteDatabase

    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    init(path: String) throws {
        database = try SQLiteDatabase(path: path)
        try Self.migrator.migrate(database)
    }

    private static var migrator: SQLiteMigrator {
        var migrator = SQLiteMigrator()
        migrator.register("v1: endpoints") { db in
            try db.execute(sql: """
                CREATE TABLE endpoint (
                    number INTEGER PRIMARY KEY AUTOINCREMENT,
                    public_key BLOB NOT NULL UNIQUE CHECK (length(public_key) = 32),
                    private_key BLOB NOT NULL CHECK (length(private_key) = 32),
                    directory TEXT NOT NULL,
                    device INTEGER NOT NULL,
                    inode INTEGER NOT NULL,
                    owner INTEGER NOT NULL,
                    created_usec INTEGER NOT NULL,
                    quota INTEGER,
                    expires_usec INTEGER,
                    remaining_uses INTEGER,
                    bytes_received INTEGER NOT NULL DEFAULT 0,
                    files_received INTEGER NOT NULL DEFAULT 0
                )
                """)
            try db.execute(sql: "CREATE INDEX endpoint_owner ON endpoint(owner)")
        }
        migrator.register("v2: receive resume records") { db in
            // One row per incoming transfer token, and one per offered path: what a retry with the
            // same token may resume (docs/protocol.md, "Resume").
            try db.execute(sql: """
                CREATE TABLE receive_transfer (
                    endpoint INTEGER NOT NULL REFERENCES endpoint(number) ON DELETE CASCADE,
                    token BLOB NOT NULL CHECK (length(token) = 16),
                    digest INTEGER NOT NULL,
                    done INTEGER NOT NULL DEFAULT 0,
                    last_activity_usec INTEGER NOT NULL,
                    PRIMARY KEY (endpoint, token)
                )
                """)
            try db.execute(sql: """
                CREATE TABLE receive_entry (
                    endpoint INTEGER NOT NULL,
                    token BLOB NOT NULL,
                    path BLOB NOT NULL,
                    kind INTEGER NOT NULL,
                    size INTEGER NOT NULL,
                    mtime_sec INTEGER NOT NULL,
                    mtime_nsec INTEGER NOT NULL,
                    slot INTEGER NOT NULL,
                    durable INTEGER NOT NULL DEFAULT 0,
                    delivered_path TEXT,
                    PRIMARY KEY (endpoint, token, path),
                    FOREIGN KEY (endpoint, token) REFERENCES receive_transfer(endpoint, token) ON DELETE CASCADE
                )
                """)
        }
        migrator.register("v3: send tokens") { db in
            try db.execute(sql: """
                CREATE TABLE send_token (
                    key BLOB PRIMARY KEY,
                    token BLOB NOT NULL CHECK (length(token) = 16),
                    created_usec INTEGER NOT NULL
                )
                """)
        }
        migrator.register("v4: transfers and the send queue") { db in
            // Every transfer, both directions: numbers that never repeat (AUTOINCREMENT), the send
            // queue (docs/queue.md) and the history (HistoryRetention=).
            try db.execute(sql: """
                CREATE TABLE transfer (
                    number INTEGER PRIMARY KEY AUTOINCREMENT,
                    direction TEXT NOT NULL,
                    owner INTEGER NOT NULL,
                    state TEXT NOT NULL,
                    route TEXT NOT NULL,
                    endpoint_path TEXT NOT NULL DEFAULT '/',
                    destination TEXT NOT NULL DEFAULT '',
                    sources TEXT NOT NULL DEFAULT '[]',
                    names TEXT NOT NULL DEFAULT '[]',
                    digest_algorithm TEXT NOT NULL,
                    options TEXT,
                    token_key BLOB,
                    priority INTEGER NOT NULL DEFAULT 0,
                    attempts INTEGER NOT NULL DEFAULT 0,
                    next_attempt_usec INTEGER NOT NULL DEFAULT 0,
                    last_error TEXT NOT NULL DEFAULT '',
                    error TEXT NOT NULL DEFAULT '',
                    digest TEXT NOT NULL DEFAULT '',
                    bytes_done INTEGER NOT NULL DEFAULT 0,
                    bytes_total INTEGER NOT NULL DEFAULT 0,
                    bytes_resumed INTEGER NOT NULL DEFAULT 0,
                    files_done INTEGER NOT NULL DEFAULT 0,
                    files_total INTEGER NOT NULL DEFAULT 0,
                    created_usec INTEGER NOT NULL,
                    finished_usec INTEGER NOT NULL DEFAULT 0
                )
                """)
            try db.execute(sql: "CREATE INDEX transfer_finished ON transfer(finished_usec)")
        }
        migrator.register("v5: files being published") { db in
            // Set just before a verified file is renamed to its final name, so that a daemon
            // killed between the rename and the delivery record knows, when the same token comes
            // back, that the file whose partial file is gone was published (docs/queue.md).
            try db.execute(sql: "ALTER TABLE receive_entry ADD COLUMN publishing INTEGER NOT NULL DEFAULT 0")
        }
        migrator.register("v6: a send's changed limit and kept sources") { db in
            // What SetRateLimit and move mode change while a send runs outlives a restart.
            // rate_limit NULL: the limit the send was queued with (in options).
            try db.execute(sql: "ALTER TABLE transfer ADD COLUMN rate_limit INTEGER")
            try db.execute(sql: "ALTER TABLE transfer ADD COLUMN kept_sources TEXT NOT NULL DEFAULT '[]'")
        }
        migrator.register("v7: what move mode offered") { db in
            // What each source file of a send in move mode looked like when the send first
            // offered it: a later attempt may then remove a file that the receiver got from an
            // attempt that died before removing it, if the file is unchanged since (docs/queue.md).
            try db.execute(sql: """
                CREATE TABLE send_offered (
                    key BLOB NOT NULL,
                    path TEXT NOT NULL,
                    device INTEGER NOT NULL,
                    inode INTEGER NOT NULL,
                    size INTEGER NOT NULL,
                    mtime_sec INTEGER NOT NULL,
                    mtime_nsec INTEGER NOT NULL,
                    PRIMARY KEY (key, path)
                ) WITHOUT ROWID
                """)
        }
        migrator.register("v8: numbers per owner") { db in
            try OwnerNumbers.migrate(db)
        }
        migrator.register("v9: endpoints that allow a direct path") { db in
            try db.execute(sql: "ALTER TABLE endpoint ADD COLUMN allow_direct INTEGER NOT NULL DEFAULT 0")
        }
        migrator.register("v10: endpoints that take AES-GCM") { db in
            // A sender's memory of its destinations' ciphers (CipherMemory), by a SHA-256 of the
            // endpoint's public key.
            try db.execute(sql: """
                CREATE TABLE aes_endpoint (
                    key_hash BLOB PRIMARY KEY CHECK (length(key_hash) = 32),
                    learnt_usec INTEGER NOT NULL
                ) WITHOUT ROWID
                """)
        }
        return migrator
    }

    /// Every endpoint, and the rows that could not be read (by owner and number) with the reason:
    /// one malformed row disables that endpoint, not the daemon.
    func loadAll() throws -> (endpoints: [Endpoint], unreadable: [(endpoint: ObjectNumber, reason: String)]) {
        try database.read { db in
            var endpoints: [Endpoint] = []
            var unreadable: [(endpoint: ObjectNumber, reason: String)] = []
            for row in try db.fetchAll(sql: "SELECT * FROM endpoint ORDER BY number") {
                do {
                    endpoints.append(try Self.endpoint(from: row))
                } catch {
                    let endpoint = ObjectNumber(
                        owner: UInt32(clamping: (try? row["owner"] as Int64?) ?? 0), number: (try? row["owner_number"] as Int64?) ?? 0)
                    unreadable.append((endpoint, "\(error)"))
                }
            }
            return (endpoints, unreadable)
        }
    }

    /// Inserts a new endpoint and returns it with its numbers: the row's, and its owner's next.
    func insert(
        id: EndpointID, privateKey: [UInt8], directory: EndpointDirectory, owner: UInt32, created: UInt64,
        quota: UInt64?, expires: UInt64?, remainingUses: UInt64?, allowDirect: Bool = false
    ) throws -> Endpoint {
        try database.write { db in
            let ownerNumber = try OwnerNumbers.next(.endpoint, owner: owner, in: db)
            try db.execute(
                sql: """
                    INSERT INTO endpoint (public_key, private_key, directory, device, inode, owner, owner_number, created_usec,
                                          quota, expires_usec, remaining_uses, allow_direct)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    Data(id.publicKey), Data(privateKey), directory.path, Int64(bitPattern: directory.device),
                    Int64(bitPattern: directory.inode), Int64(owner), ownerNumber, Int64(clamping: created),
                    quota.map { Int64(clamping: $0) }, expires.map { Int64(clamping: $0) },
                    remainingUses.map { Int64(clamping: $0) }, allowDirect ? 1 : 0,
                ])
            return Endpoint(
                number: db.lastInsertedRowID, ownerNumber: ownerNumber, id: id, privateKey: privateKey, directory: directory, owner: owner,
                created: created, quota: quota, expires: expires, remainingUses: remainingUses,
                bytesReceived: 0, filesReceived: 0, allowDirect: allowDirect)
        }
    }

    /// Records an endpoint's remaining uses.
    func setRemainingUses(number: Int64, _ uses: UInt64?) throws {
        try database.write { db in
            try db.execute(
                sql: "UPDATE endpoint SET remaining_uses = ? WHERE number = ?",
                arguments: [uses.map { Int64(clamping: $0) }, number])
        }
    }

    func delete(numbers: [Int64]) throws {
        guard !numbers.isEmpty else { return }
        try database.write { db in
            for number in numbers {
                try db.execute(sql: "DELETE FROM endpoint WHERE number = ?", arguments: [number])
            }
        }
    }

    private static func endpoint(from row: SQLiteRow) throws -> Endpoint {
        let publicKey: [UInt8]? = try row["public_key"]
        let privateKey: [UInt8]? = try row["private_key"]
        guard let publicKey, let privateKey, let id = EndpointID(publicKey: publicKey), privateKey.count == 32 else {
            throw SQLiteError(code: 11 /* SQLITE_CORRUPT */, message: "the endpoint has a malformed key", context: "reading an endpoint")
        }
        func unsigned(_ column: String) throws -> UInt64? {
            try (row[column] as Int64?).map { UInt64(clamping: $0) }
        }
        return Endpoint(
            number: try row["number"], ownerNumber: try row["owner_number"], id: id, privateKey: privateKey,
            directory: EndpointDirectory(
                path: try row["directory"], device: UInt64(bitPattern: try row["device"]), inode: UInt64(bitPattern: try row["inode"])),
            owner: UInt32(clamping: try row["owner"] as Int64),
            created: try unsigned("created_usec") ?? 0,
            quota: try unsigned("quota"), expires: try unsigned("expires_usec"), remainingUses: try unsigned("remaining_uses"),
            bytesReceived: try unsigned("bytes_received") ?? 0, filesReceived: try unsigned("files_received") ?? 0,
            allowDirect: (try unsigned("allow_direct") ?? 0) != 0)
    }
}
