import FoundationEssentials
import Glibc
import S2SSQLite
import Logging

/// The state database's files in the state directory, and the checks that make losing it loud:
/// a directory that held a database and now holds none, an empty one or a damaged one is an
/// error at start, not an empty daemon (docs/configuration.md, "State and backups").
///
/// - `s2s.sqlite` (with `-wal`, `-shm`): the database.
/// - `s2s.state`: written once a database exists; its presence says there was one.
/// - `backups/s2s.sqlite.1` … `.3`: online copies made with SQLite's backup API at every start
///   and after endpoints change, newest first, so that endpoint keys can be recovered.
package enum StateDatabase {
    static let fileName = "s2s.sqlite"
    static let markerName = "s2s.state"
    static let backupDirectoryName = "backups"
    /// Backups kept, newest first.
    static let backupsKept = 3

    /// Why the state cannot be used as it is; the message says what to do.
    package struct Problem: Error, CustomStringConvertible {
        package let description: String
    }

    /// Checks the state directory before the database is opened. With `newState`, a missing,
    /// empty or damaged database is moved aside (never deleted) and a new one starts.
    static func checkBeforeOpening(directory: String, newState: Bool, logger: Logger) throws(Problem) {
        let files = Files(directory: directory)
        let size = files.size(of: files.database)
        guard size == nil || size == 0 else { return }
        let held = files.exists(files.marker) || !files.backups().isEmpty || size == 0
        guard held else { return }   // a new state directory
        let what = size == nil ? "is missing" : "is empty"
        if newState {
            let aside = files.setAside()
            logger.warning(
                "the state database \(what); starting with a new one as asked (--new-state)",
                metadata: ["database": "\(files.database)", "set_aside": "\(aside)"])
            return
        }
        throw Problem(description: files.advice("the state database \(files.database) \(what), but this state directory held one"))
    }

    /// Runs `PRAGMA quick_check` on an open database; returns what it found ("ok" when sound).
    /// A row that breaks its table's CHECK or NOT NULL constraint is not a damaged file: such a
    /// row is refused when it is read, which disables that one endpoint, not the daemon.
    static func quickCheck(_ database: SQLiteDatabase) throws -> [String] {
        let found = try database.read { db in try db.fetchValues(String.self, sql: "PRAGMA quick_check") }
        let damage = found.filter { !$0.hasPrefix("CHECK constraint failed in ") && !$0.hasPrefix("NULL value in ") }
        return damage.isEmpty ? ["ok"] : damage
    }

    /// Opens the store, checking it: a database that cannot be opened or fails `quick_check` is
    /// an error (or, with `newState`, is moved aside for a new one). Marks the directory as
    /// holding a database and makes a first backup.
    static func open(directory: String, newState: Bool, logger: Logger) throws(Problem) -> EndpointStore {
        try checkBeforeOpening(directory: directory, newState: newState, logger: logger)
        let files = Files(directory: directory)
        var store: EndpointStore
        do {
            store = try EndpointStore(path: files.database)
            let found = try quickCheck(store.database)
            guard found == ["ok"] else {
                throw Problem(description: "PRAGMA quick_check found: " + found.prefix(5).joined(separator: "; "))
            }
            logger.info("state database checked", metadata: ["database": "\(files.database)", "quick_check": "ok"])
        } catch {
            let reason = (error as? Problem)?.description ?? "\(error)"
            guard newState else {
                throw Problem(description: files.advice("the state database \(files.database) is damaged (\(reason))"))
            }
            let aside = files.setAside()
            logger.warning(
                "the state database is damaged; starting with a new one as asked (--new-state)",
                metadata: ["database": "\(files.database)", "problem": "\(reason)", "set_aside": "\(aside)"])
            do {
                store = try EndpointStore(path: files.database)
            } catch {
                throw Problem(description: "cannot create a new state database \(files.database): \(error)")
            }
        }
        if !files.exists(files.marker) {
            let text = "# s2sd keeps its state database (s2s.sqlite) here; this file says that one exists.\n"
            guard FileManager.default.createFile(atPath: files.marker, contents: Data(text.utf8), attributes: [.posixPermissions: 0o600])
            else { throw Problem(description: "cannot write \(files.marker)") }
        }
        backUp(store, directory: directory, logger: logger)
        return store
    }

    /// Copies the database to `backups/s2s.sqlite.1` with SQLite's online backup, shifting older
    /// copies down and dropping the oldest. A failure is logged: the daemon runs on without it.
    static func backUp(_ store: EndpointStore, directory: String, logger: Logger) {
        let files = Files(directory: directory)
        let manager = FileManager.default
        do {
            try manager.createDirectory(atPath: files.backupDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            let fresh = files.backupDirectory + "/" + fileName + ".new"
            try? manager.removeItem(atPath: fresh)
            try store.database.backUp(to: fresh)
            for number in stride(from: backupsKept, through: 1, by: -1) {
                let from = files.backup(number)
                guard manager.fileExists(atPath: from) else { continue }
                if number == backupsKept {
                    try manager.removeItem(atPath: from)
                } else {
                    try? manager.removeItem(atPath: files.backup(number + 1))
                    try manager.moveItem(atPath: from, toPath: files.backup(number + 1))
                }
            }
            try manager.moveItem(atPath: fresh, toPath: files.backup(1))
            logger.debug("state database backed up", metadata: ["backup": "\(files.backup(1))"])
        } catch {
            logger.error("cannot back up the state database", metadata: ["directory": "\(files.backupDirectory)", "error": "\(error)"])
        }
    }

    /// The paths of one state directory.
    private struct Files {
        let directory: String
        var database: String { directory + "/" + StateDatabase.fileName }
        var marker: String { directory + "/" + StateDatabase.markerName }
        var backupDirectory: String { directory + "/" + StateDatabase.backupDirectoryName }
        func backup(_ number: Int) -> String { backupDirectory + "/" + StateDatabase.fileName + ".\(number)" }

        func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

        func size(of path: String) -> UInt64? {
            var status = stat()
            guard stat(path, &status) == 0 else { return nil }
            return UInt64(clamping: status.st_size)
        }

        func backups() -> [String] {
            (1...StateDatabase.backupsKept).map(backup).filter { size(of: $0).map { $0 > 0 } ?? false }
        }

        /// What the operator can do, after `problem`.
        func advice(_ problem: String) -> String {
            let restore =
                backups().first.map { "restore the newest backup (cp \($0) \(database), as the daemon's user, while s2sd is stopped)" }
                ?? "restore it from your own backups"
            return "\(problem): starting would lose every endpoint and its key. To keep them, \(restore). "
                + "To start afresh instead, run s2sd once with --new-state (the old files are kept beside, renamed)."
        }

        /// Renames the database files to `….set-aside-TIME`; returns the new name of the main file.
        func setAside() -> String {
            let stamp = Int(Date().timeIntervalSince1970)
            let target = database + ".set-aside-\(stamp)"
            for suffix in ["", "-wal", "-shm"] where exists(database + suffix) {
                try? FileManager.default.moveItem(atPath: database + suffix, toPath: target + suffix)
            }
            return target
        }
    }
}
