import FoundationEssentials
import S2SSQLite
import S2SProtocol
import Synchronization

/// The receiver's memory of incoming transfers, per endpoint and token (docs/protocol.md,
/// "Resume"): what each offered path was, how many of its bytes are durable in the partial area,
/// and where it was delivered. A retry with the same token resumes from here.
///
/// Shares the daemon's database; each call is one transaction.
final class ResumeStore: Sendable {
    /// One offered entry as recorded.
    struct Entry: Sendable, Equatable {
        var path: String
        var kind: EntryKind
        var size: UInt64
        var mtimeSeconds: Int64
        var mtimeNanoseconds: UInt32
        /// The partial file's name in the transfer's partial directory: stable across retries,
        /// while entry indices may change.
        var slot: UInt32
        /// Bytes verified and durable in the partial file.
        var durable: UInt64 = 0
        /// The path it was published under, once delivered.
        var deliveredPath: String?
        /// Whether its rename to the final name may have happened (`publishing`).
        var publishing = false

        /// Whether an offered entry is the same file as recorded: kind, size and both mtime fields.
        func matches(_ offered: OfferEntry) -> Bool {
            kind == offered.kind && size == offered.size && mtimeSeconds == offered.mtimeSeconds
                && mtimeNanoseconds == offered.mtimeNanoseconds
        }
    }

    /// What is known about one token.
    struct Transfer: Sendable {
        var digest: UInt8
        var done: Bool
        /// By path, compared byte for byte (`PathKey`).
        var entries: [PathKey: Entry]
    }

    private let database: SQLiteDatabase
    /// The (endpoint, token) pairs of the sessions running now.
    private let running = Mutex<Set<RunningKey>>([])

    private struct RunningKey: Hashable {
        let endpoint: Int64
        let token: TransferToken
    }

    init(database: SQLiteDatabase) {
        self.database = database
    }

    /// Claims a token for one session: false if another session of the same endpoint holds it.
    func claim(endpoint: Int64, token: TransferToken) -> Bool {
        running.withLock { $0.insert(RunningKey(endpoint: endpoint, token: token)).inserted }
    }

    /// Gives a claimed token back (the session ended).
    func release(endpoint: Int64, token: TransferToken) {
        _ = running.withLock { $0.remove(RunningKey(endpoint: endpoint, token: token)) }
    }

    /// Whether a session holds the token now (the sweep leaves its records alone).
    func isRunning(endpoint: Int64, token: TransferToken) -> Bool {
        running.withLock { $0.contains(RunningKey(endpoint: endpoint, token: token)) }
    }

    func load(endpoint: Int64, token: TransferToken) throws -> Transfer? {
        try database.read { db in
            guard let row = try db.fetchOne(
                sql: "SELECT digest, done FROM receive_transfer WHERE endpoint = ? AND token = ?",
                arguments: [endpoint, Data(token.bytes)])
            else { return nil }
            var entries: [PathKey: Entry] = [:]
            let rows = try db.fetchAll(
                sql: "SELECT * FROM receive_entry WHERE endpoint = ? AND token = ?", arguments: [endpoint, Data(token.bytes)])
            for entry in rows {
                let pathBytes: [UInt8] = try entry["path"]
                let path = String(decoding: pathBytes, as: UTF8.self)
                let kind = EntryKind(rawValue: UInt8(clamping: try entry["kind"] as Int64)) ?? .file
                entries[PathKey(path)] = Entry(
                    path: path, kind: kind, size: UInt64(clamping: try entry["size"] as Int64),
                    mtimeSeconds: try entry["mtime_sec"], mtimeNanoseconds: UInt32(clamping: try entry["mtime_nsec"] as Int64),
                    slot: UInt32(clamping: try entry["slot"] as Int64), durable: UInt64(clamping: try entry["durable"] as Int64),
                    deliveredPath: try entry["delivered_path"], publishing: try entry["publishing"] as Bool)
            }
            return Transfer(digest: UInt8(clamping: try row["digest"] as Int64), done: try row["done"] as Bool, entries: entries)
        }
    }

    /// Records an accepted offer: replaces whatever was known about the token.
    func begin(endpoint: Int64, token: TransferToken, digest: UInt8, entries: [Entry], now: UInt64) throws {
        let key = Data(token.bytes)
        try database.write { db in
            try db.execute(sql: "DELETE FROM receive_transfer WHERE endpoint = ? AND token = ?", arguments: [endpoint, key])
            try db.execute(
                sql: "INSERT INTO receive_transfer (endpoint, token, digest, last_activity_usec) VALUES (?, ?, ?, ?)",
                arguments: [endpoint, key, Int64(digest), Int64(clamping: now)])
            let insert = try db.prepare(sql: """
                INSERT INTO receive_entry (endpoint, token, path, kind, size, mtime_sec, mtime_nsec, slot, durable, delivered_path,
                                           publishing)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
            for entry in entries {
                try insert.execute(arguments: [
                    endpoint, key, Data(entry.path.utf8), Int64(entry.kind.rawValue), Int64(clamping: entry.size),
                    entry.mtimeSeconds, Int64(entry.mtimeNanoseconds), Int64(entry.slot), Int64(clamping: entry.durable),
                    entry.deliveredPath, entry.publishing ? 1 : 0,
                ])
            }
        }
    }

    /// Records that the first `durable` bytes of a partial file are verified and on disk.
    func checkpoint(endpoint: Int64, token: TransferToken, path: String, durable: UInt64, now: UInt64) throws {
        let key = Data(token.bytes)
        try database.write { db in
            try db.execute(
                sql: "UPDATE receive_entry SET durable = ? WHERE endpoint = ? AND token = ? AND path = ?",
                arguments: [Int64(clamping: durable), endpoint, key, Data(path.utf8)])
            try touch(db, endpoint: endpoint, key: key, now: now)
        }
    }

    /// Records, in one transaction, that the verified, durable files at `publishing` are about to
    /// be renamed to their final names, and that the files of `delivered` (offered path → path
    /// published under) are in place and durable, adding those to the endpoint's counters.
    func record(
        endpoint: Int64, token: TransferToken, publishing: [String] = [], delivered: [(path: String, publishedAs: String)] = [],
        bytes: UInt64 = 0, now: UInt64
    ) throws {
        guard !publishing.isEmpty || !delivered.isEmpty else { return }
        let key = Data(token.bytes)
        try database.write { db in
            if !publishing.isEmpty {
                let update = try db.prepare(
                    sql: "UPDATE receive_entry SET publishing = 1 WHERE endpoint = ? AND token = ? AND path = ?")
                for path in publishing {
                    try update.execute(arguments: [endpoint, key, Data(path.utf8)])
                }
            }
            guard !delivered.isEmpty else { return }
            let update = try db.prepare(
                sql: "UPDATE receive_entry SET delivered_path = ?, durable = 0, publishing = 0 WHERE endpoint = ? AND token = ? AND path = ?")
            for file in delivered {
                try update.execute(arguments: [file.publishedAs, endpoint, key, Data(file.path.utf8)])
            }
            try db.execute(
                sql: "UPDATE endpoint SET bytes_received = bytes_received + ?, files_received = files_received + ? WHERE number = ?",
                arguments: [Int64(clamping: bytes), delivered.count, endpoint])
            try touch(db, endpoint: endpoint, key: key, now: now)
        }
    }

    /// Marks the token's transfer finished (DONE_ACK sent): kept so that a retry gets COMPLETE.
    func complete(endpoint: Int64, token: TransferToken, now: UInt64) throws {
        let key = Data(token.bytes)
        try database.write { db in
            try db.execute(
                sql: "UPDATE receive_transfer SET done = 1, last_activity_usec = ? WHERE endpoint = ? AND token = ?",
                arguments: [Int64(clamping: now), endpoint, key])
            try db.execute(sql: "UPDATE receive_entry SET durable = 0 WHERE endpoint = ? AND token = ?", arguments: [endpoint, key])
        }
    }

    /// Forgets the token (after CANCEL): a later offer with it is a new transfer.
    func forget(endpoint: Int64, token: TransferToken) throws {
        try database.write { db in
            try db.execute(
                sql: "DELETE FROM receive_transfer WHERE endpoint = ? AND token = ?", arguments: [endpoint, Data(token.bytes)])
        }
    }

    /// The tokens of each endpoint whose last activity was before `time` (microseconds since the
    /// epoch): abandoned transfers, for the `ResumeRetention=` sweep.
    func inactive(before time: UInt64) throws -> [(endpoint: Int64, token: TransferToken)] {
        try database.read { db in
            try db.fetchAll(
                sql: "SELECT endpoint, token FROM receive_transfer WHERE last_activity_usec < ?", arguments: [Int64(clamping: time)]
            ).compactMap { row in
                let bytes: [UInt8] = try row["token"]
                guard let token = try? TransferToken(bytes: bytes) else { return nil }
                return (try row["endpoint"], token)
            }
        }
    }

    /// Every token recorded for an endpoint.
    func tokens(endpoint: Int64) throws -> [TransferToken] {
        try database.read { db in
            try db.fetchValues([UInt8].self, sql: "SELECT token FROM receive_transfer WHERE endpoint = ?", arguments: [endpoint]).compactMap {
                try? TransferToken(bytes: $0)
            }
        }
    }

    private func touch(_ db: SQLiteConnection, endpoint: Int64, key: Data, now: UInt64) throws {
        try db.execute(
            sql: "UPDATE receive_transfer SET last_activity_usec = ? WHERE endpoint = ? AND token = ?",
            arguments: [Int64(clamping: now), endpoint, key])
    }
}
