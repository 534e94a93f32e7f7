import Foundation
import S2SSQLite
import Testing

/// The state database's SQLite layer: transactions that commit whole or not at all, rows read
/// strictly, the schema history kept in GRDB's table, foreign keys enforced, online backups.
struct SQLiteDatabaseTests {
    let path: String

    init() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("s2s-sqlite-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        path = folder.appendingPathComponent("test.sqlite").path
    }

    private func table() throws -> SQLiteDatabase {
        let database = try SQLiteDatabase(path: path)
        try database.write { db in try db.execute(sql: "CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT, data BLOB)") }
        return database
    }

    struct Refusal: Error {}

    @Test func aWriteThatThrowsLeavesNothing() throws {
        let database = try table()
        #expect(throws: Refusal.self) {
            try database.write { db in
                try db.execute(sql: "INSERT INTO item (name) VALUES (?)", arguments: ["half"])
                throw Refusal()
            }
        }
        let id = try database.write { db in
            try db.execute(sql: "INSERT INTO item (name) VALUES (?)", arguments: ["whole"])
            return db.lastInsertedRowID
        }
        #expect(try database.read { db in try db.fetchValues(String.self, sql: "SELECT name FROM item") } == ["whole"])
        #expect(id == 1)
        // The connection is clean for the next caller after a failed statement inside a write.
        #expect(throws: SQLiteError.self) {
            try database.write { db in try db.execute(sql: "INSERT INTO nowhere VALUES (1)") }
        }
        try database.write { db in try db.execute(sql: "INSERT INTO item (name) VALUES ('after')") }
        #expect(try database.read { db in try db.fetchValue(Int.self, sql: "SELECT count(*) FROM item") } == 2)
    }

    @Test func rowsAreReadStrictlyNeverTrapped() throws {
        let database = try table()
        try database.write { db in
            try db.execute(sql: "INSERT INTO item (id, name, data) VALUES (?, ?, ?)", arguments: [1, nil, [UInt8]()])
            try db.execute(sql: "INSERT INTO item (id, name, data) VALUES (?, ?, ?)", arguments: [2, "zwei", Data([0, 1, 0xFF])])
        }
        let rows = try database.read { db in try db.fetchAll(sql: "SELECT * FROM item ORDER BY id") }
        #expect(rows.count == 2)
        #expect(try rows[0]["name"] as String? == nil)
        // An empty blob stays an empty blob, not NULL.
        #expect(try rows[0]["data"] as [UInt8]? == [])
        #expect(try rows[1]["data"] as Data == Data([0, 1, 0xFF]))
        let null = #expect(throws: SQLiteError.self) { try rows[0]["name"] as String }
        #expect(null?.description.contains("name") == true)
        #expect(throws: SQLiteError.self) { try rows[1]["name"] as Int64 }
        #expect(throws: SQLiteError.self) { try rows[1]["missing"] as Int64? }
        #expect(throws: SQLiteError.self) { try rows[1][7] as Int64? }
        // Arguments that do not match the parameters are an error, not a crash.
        #expect(throws: SQLiteError.self) {
            try database.write { db in try db.execute(sql: "INSERT INTO item (name) VALUES (?)", arguments: ["a", "b"]) }
        }
    }

    @Test func readsCannotWrite() throws {
        let database = try table()
        #expect(throws: SQLiteError.self) {
            try database.read { db in try db.execute(sql: "INSERT INTO item (name) VALUES ('sneaked')") }
        }
        #expect(try database.read { db in try db.fetchValue(Int.self, sql: "SELECT count(*) FROM item") } == 0)
    }

    @Test func foreignKeysAreEnforcedAndCascade() throws {
        let database = try SQLiteDatabase(path: path)
        try database.write { db in
            try db.execute(sql: """
                CREATE TABLE parent (id INTEGER PRIMARY KEY);
                CREATE TABLE child (parent INTEGER NOT NULL REFERENCES parent(id) ON DELETE CASCADE);
                INSERT INTO parent VALUES (1);
                INSERT INTO child VALUES (1);
                """)
        }
        #expect(throws: SQLiteError.self) { try database.write { db in try db.execute(sql: "INSERT INTO child VALUES (2)") } }
        try database.write { db in try db.execute(sql: "DELETE FROM parent WHERE id = 1") }
        #expect(try database.read { db in try db.fetchValue(Int.self, sql: "SELECT count(*) FROM child") } == 0)
    }

    @Test func migrationsRunOnceInOrderAndContinueAnOlderHistory() throws {
        func migrator(upTo count: Int) -> SQLiteMigrator {
            var migrator = SQLiteMigrator()
            migrator.register("v1") { db in try db.execute(sql: "CREATE TABLE log (step TEXT)") }
            for step in 2...count {
                migrator.register("v\(step)") { db in try db.execute(sql: "INSERT INTO log VALUES (?)", arguments: ["v\(step)"]) }
            }
            return migrator
        }
        do {
            let database = try SQLiteDatabase(path: path)
            try migrator(upTo: 2).migrate(database)
            try migrator(upTo: 2).migrate(database)
        }
        let database = try SQLiteDatabase(path: path)
        try migrator(upTo: 4).migrate(database)
        #expect(try database.read { db in try db.fetchValues(String.self, sql: "SELECT step FROM log") } == ["v2", "v3", "v4"])
        #expect(try SQLiteMigrator.applied(in: database) == ["v1", "v2", "v3", "v4"])
        // A migration that fails leaves neither its changes nor its record.
        var failing = migrator(upTo: 4)
        failing.register("v5") { db in
            try db.execute(sql: "INSERT INTO log VALUES ('v5')")
            throw SQLiteError(code: 1, message: "no", context: "test")
        }
        #expect(throws: SQLiteError.self) { try failing.migrate(database) }
        #expect(try SQLiteMigrator.applied(in: database).last == "v4")
        #expect(try database.read { db in try db.fetchValue(Int.self, sql: "SELECT count(*) FROM log WHERE step = 'v5'") } == 0)
    }

    @Test func aBackupIsACompleteSoundCopy() throws {
        let database = try table()
        try database.write { db in
            let insert = try db.prepare(sql: "INSERT INTO item (name, data) VALUES (?, ?)")
            for index in 0..<500 { try insert.execute(arguments: ["item \(index)", Data(repeating: UInt8(index % 256), count: 300)]) }
        }
        let copyPath = path + ".backup"
        try database.backUp(to: copyPath)
        let copy = try SQLiteDatabase(path: copyPath)
        #expect(try copy.read { db in try db.fetchValues(String.self, sql: "PRAGMA quick_check") } == ["ok"])
        #expect(try copy.read { db in try db.fetchValue(Int.self, sql: "SELECT count(*) FROM item") } == 500)
        #expect(try copy.read { db in try db.fetchValue(String.self, sql: "SELECT name FROM item WHERE id = 500") } == "item 499")
    }

    @Test func aFileThatIsNotADatabaseIsAnError() throws {
        try Data("not a database, only text that is long enough to be a header".utf8).write(to: URL(fileURLWithPath: path))
        #expect(throws: SQLiteError.self) {
            let database = try SQLiteDatabase(path: path)
            _ = try database.read { db in try db.fetchValues(String.self, sql: "PRAGMA quick_check") }
        }
    }
}

extension SQLiteDatabaseTests {
    /// A reader connection that read before a migration sees the new schema afterwards: `SELECT *`
    /// has the new column (its names are taken after the statement is prepared again).
    @Test func aReaderSeesTheSchemaAWriterChanged() throws {
        let database = try table()
        try database.write { db in try db.execute(sql: "INSERT INTO item (name) VALUES ('one')") }
        #expect(try database.read { db in try db.fetchAll(sql: "SELECT * FROM item") }.count == 1)
        try database.write { db in try db.execute(sql: "ALTER TABLE item ADD COLUMN added INTEGER NOT NULL DEFAULT 7") }
        let row = try #require(try database.read { db in try db.fetchOne(sql: "SELECT * FROM item") })
        #expect(try row["added"] as Int64 == 7)
    }
}
