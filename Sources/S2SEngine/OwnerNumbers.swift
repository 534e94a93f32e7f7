import S2SSQLite

/// Each owner's numbers for endpoints and for transfers (`ObjectNumber`): 1, 2, 3... per user,
/// never given twice to one user, not after a delete, `ClearFinished`, a restart or a crash, and
/// telling nothing of other users' objects. The rows keep their global `number` as the engine's
/// key; `owner_number` is what the bus and the journal show.
///
/// `owner_sequence` holds the last number given to each owner for each kind, in the same
/// transaction as the row that takes it, so that deleted rows leave their numbers used.
enum OwnerNumbers {
    enum Kind: String {
        case endpoint, transfer

        var table: String { rawValue }
    }

    /// Migration v8: the tables' `owner_number` column, filled with each row's global number
    /// (unique among all rows, so unique per owner), and each owner's sequence continuing above
    /// that owner's highest number.
    static func migrate(_ db: SQLiteConnection) throws {
        for kind in [Kind.endpoint, .transfer] {
            try db.execute(sql: "ALTER TABLE \(kind.table) ADD COLUMN owner_number INTEGER NOT NULL DEFAULT 0")
            try db.execute(sql: "UPDATE \(kind.table) SET owner_number = number")
            try db.execute(sql: "CREATE UNIQUE INDEX \(kind.table)_owner_number ON \(kind.table)(owner, owner_number)")
        }
        try db.execute(sql: """
            CREATE TABLE owner_sequence (
                owner INTEGER NOT NULL,
                kind TEXT NOT NULL,
                last INTEGER NOT NULL,
                PRIMARY KEY (owner, kind)
            ) WITHOUT ROWID
            """)
        try db.execute(sql: "INSERT INTO owner_sequence SELECT owner, 'transfer', max(number) FROM transfer GROUP BY owner")
        // An owner's endpoints that are gone still show in the history of what they received
        // (a receiving transfer belongs to the endpoint's owner): their numbers stay used too.
        let prefix = Transfer.storedEndpointPrefix
        try db.execute(
            sql: """
                INSERT INTO owner_sequence
                SELECT owner, 'endpoint', max(used) FROM (
                    SELECT owner, number AS used FROM endpoint
                    UNION ALL
                    SELECT owner, CAST(substr(endpoint_path, ?) AS INTEGER) FROM transfer
                    WHERE direction = 'receive' AND substr(endpoint_path, 1, ?) = ?
                ) GROUP BY owner
                """,
            arguments: [prefix.count + 1, prefix.count, prefix])
    }

    /// Takes `owner`'s next number of `kind`, in the caller's write transaction: above the last
    /// one given and above every row there is.
    static func next(_ kind: Kind, owner: UInt32, in db: SQLiteConnection) throws -> Int64 {
        let last = try db.fetchValue(
            Int64.self, sql: "SELECT last FROM owner_sequence WHERE owner = ? AND kind = ?", arguments: [Int64(owner), kind.rawValue]) ?? 0
        let highest = try db.fetchValue(
            Int64.self, sql: "SELECT max(owner_number) FROM \(kind.table) WHERE owner = ?", arguments: [Int64(owner)]) ?? 0
        let next = max(last, highest) + 1
        try db.execute(
            sql: """
                INSERT INTO owner_sequence (owner, kind, last) VALUES (?, ?, ?)
                ON CONFLICT (owner, kind) DO UPDATE SET last = excluded.last
                """,
            arguments: [Int64(owner), kind.rawValue, next])
        return next
    }

    /// The last number given to each owner for `kind`.
    static func last(_ kind: Kind, in db: SQLiteConnection) throws -> [UInt32: Int64] {
        var result: [UInt32: Int64] = [:]
        for row in try db.fetchAll(sql: "SELECT owner, last FROM owner_sequence WHERE kind = ?", arguments: [kind.rawValue]) {
            result[UInt32(clamping: try row["owner"] as Int64)] = try row["last"]
        }
        return result
    }
}
