/// The schema's history: migrations applied in order, each once, each in its own write
/// transaction with its record.
///
/// The record is the table `grdb_migrations` (one `identifier` per applied migration): the
/// databases of earlier versions, written through GRDB, keep their history and are migrated on
/// from where they are.
package struct SQLiteMigrator {
    package static let tableName = "grdb_migrations"

    private var migrations: [(identifier: String, body: (SQLiteConnection) throws -> Void)] = []

    package init() {}

    /// Adds a migration after the ones registered so far. Identifiers are unique and never change
    /// once released: a database records them.
    package mutating func register(_ identifier: String, _ body: @escaping (SQLiteConnection) throws -> Void) {
        precondition(!migrations.contains { $0.identifier == identifier }, "migration \(identifier) registered twice")
        migrations.append((identifier, body))
    }

    /// Applies the migrations that `database` has not had, in order. Migrations a newer version
    /// recorded and this one does not know are left alone.
    package func migrate(_ database: SQLiteDatabase) throws {
        try database.write { db in
            try db.execute(sql: "CREATE TABLE IF NOT EXISTS \(Self.tableName) (identifier TEXT NOT NULL PRIMARY KEY)")
        }
        let applied = Set(try database.read { db in try db.fetchValues(String.self, sql: "SELECT identifier FROM \(Self.tableName)") })
        for migration in migrations where !applied.contains(migration.identifier) {
            try database.write { db in
                try migration.body(db)
                try db.execute(sql: "INSERT INTO \(Self.tableName) (identifier) VALUES (?)", arguments: [migration.identifier])
            }
        }
    }

    /// The identifiers `database` records as applied.
    package static func applied(in database: SQLiteDatabase) throws -> [String] {
        try database.read { db in try db.fetchValues(String.self, sql: "SELECT identifier FROM \(tableName) ORDER BY rowid") }
    }
}
