import Foundation
import S2SSQLite
import S2SCore
import Testing
@testable import S2SEngine

/// Endpoints and transfers are numbered per owner (issue 19, finding 8): each user's numbers
/// start at 1, never repeat for that user, and say nothing about other users; a database of
/// the global numbers keeps every number and carries on above each owner's highest.
struct OwnerNumbersTests {
    let directory = EndpointDirectory(path: "/srv/in", device: 1, inode: 2)

    private func temporaryDatabase() throws -> String {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("s2s-db-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder.appendingPathComponent("s2s.sqlite").path
    }

    private func send(owner: UInt32) -> TransferStore.Record {
        TransferStore.Record(
            direction: .send, owner: owner, route: "direct", destination: "s2s1xyz@127.0.0.1:7730", sources: ["/a"], names: ["a"],
            digestAlgorithm: "xxh3-128", options: SendOptions(), tokenKey: Data([1]), progress: Transfer.Progress(state: .queued),
            created: 1)
    }

    @Test func eachOwnersEndpointsCountFromOneAndNeverRepeat() async throws {
        let path = try temporaryDatabase()
        let ann1, ann2, bob1: Endpoint
        do {
            let registry = try EndpointRegistry(store: try EndpointStore(path: path), maxEndpointsPerUser: 10)
            ann1 = try await registry.create(owner: 1000, directory: directory, options: EndpointOptions(), now: 1)
            bob1 = try await registry.create(owner: 1001, directory: directory, options: EndpointOptions(), now: 1)
            ann2 = try await registry.create(owner: 1000, directory: directory, options: EndpointOptions(), now: 1)
            #expect([ann1.objectNumber, bob1.objectNumber, ann2.objectNumber] == [
                ObjectNumber(owner: 1000, number: 1), ObjectNumber(owner: 1001, number: 1), ObjectNumber(owner: 1000, number: 2),
            ])
            #expect(await registry.endpoint(ObjectNumber(owner: 1001, number: 1)) == bob1)
            #expect(await registry.endpoint(ObjectNumber(owner: 1001, number: 2)) == nil)
            try await registry.remove(ann2)
        }
        let reopened = try EndpointRegistry(store: try EndpointStore(path: path), maxEndpointsPerUser: 10)
        #expect(await reopened.endpoint(ObjectNumber(owner: 1000, number: 1)) == ann1)
        let ann3 = try await reopened.create(owner: 1000, directory: directory, options: EndpointOptions(), now: 1)
        #expect(ann3.ownerNumber == 3, "the deleted endpoint's number stays used")
        let carol = try await reopened.create(owner: 1002, directory: directory, options: EndpointOptions(), now: 1)
        #expect(carol.ownerNumber == 1)
    }

    @Test func eachOwnersTransfersCountFromOneAndNeverRepeatAfterClearing() throws {
        let path = try temporaryDatabase()
        do {
            let store = TransferStore(database: try EndpointStore(path: path).database)
            #expect(try store.insert(send(owner: 1000)).ownerNumber == 1)
            #expect(try store.insert(send(owner: 1001)).ownerNumber == 1)
            let second = try store.insert(send(owner: 1000))
            #expect(second.ownerNumber == 2)
            var done = Transfer.Progress(state: .done)
            done.finishedTimestamp = 10
            try store.update(number: second.number, done)
            #expect(try store.clearFinished(owner: 1000) == [second.number])
        }
        let store = TransferStore(database: try EndpointStore(path: path).database)
        #expect(try store.insert(send(owner: 1000)).ownerNumber == 3)
        #expect(try store.lastOwnerNumbers() == [1000: 3, 1001: 1])
        let rows = try store.unfinished()
        #expect(rows.map { ObjectNumber(owner: $0.owner, number: $0.ownerNumber) } == [
            ObjectNumber(owner: 1000, number: 1), ObjectNumber(owner: 1001, number: 1), ObjectNumber(owner: 1000, number: 3),
        ])
    }

    @Test func theRegistryNumbersPerOwnerWithoutAStoreToo() async {
        let registry = TransferRegistry()
        let a1 = await registry.start(direction: .send, owner: 1000, digestAlgorithm: "xxh3-128", initialState: .queued)
        let b1 = await registry.start(direction: .send, owner: 1001, digestAlgorithm: "xxh3-128", initialState: .queued)
        let a2 = await registry.start(direction: .send, owner: 1000, digestAlgorithm: "xxh3-128", initialState: .queued)
        #expect([a1.ownerNumber, b1.ownerNumber, a2.ownerNumber] == [1, 1, 2])
        #expect(await registry.transfer(ObjectNumber(owner: 1001, number: 1)) === b1)
        #expect(await registry.transfer(ObjectNumber(owner: 1001, number: 2)) == nil)
    }

    /// A database as the daemon before per-owner numbers left it (schema v1 to v7, written out
    /// here as those migrations wrote it): every endpoint and transfer keeps its number, now its
    /// owner's; each owner's next number comes above that owner's highest, gone endpoints that
    /// the history still names included.
    @Test func aDatabaseOfGlobalNumbersKeepsThemPerOwner() async throws {
        let path = try temporaryDatabase()
        try Self.writeOldDatabase(path)
        let store = try EndpointStore(path: path)
        let registry = try EndpointRegistry(store: store, maxEndpointsPerUser: 10)
        #expect(await registry.endpoints(in: .everyone).map(\.objectNumber) == [
            ObjectNumber(owner: 1000, number: 1), ObjectNumber(owner: 1001, number: 2), ObjectNumber(owner: 1000, number: 4),
        ])
        #expect(await registry.endpoints(in: .everyone).map(\.number) == [1, 2, 4], "the rows keep their keys")
        let transfers = TransferStore(database: store.database)
        let history = try transfers.finished(owner: nil)
        #expect(history.map { ObjectNumber(owner: $0.owner, number: $0.ownerNumber) } == [
            ObjectNumber(owner: 1000, number: 1), ObjectNumber(owner: 1000, number: 2), ObjectNumber(owner: 1001, number: 3),
            ObjectNumber(owner: 1001, number: 6), ObjectNumber(owner: 1000, number: 8),
        ])
        let receipt = Transfer(record: try #require(history.first { $0.number == 6 }))
        #expect(receipt.endpointObjectNumber == ObjectNumber(owner: 1001, number: 7))

        // New numbers: above each owner's highest, the global row numbers above every row's.
        #expect(try await registry.create(owner: 1000, directory: directory, options: EndpointOptions(), now: 1).ownerNumber == 5)
        #expect(try await registry.create(owner: 1001, directory: directory, options: EndpointOptions(), now: 1).ownerNumber == 8)
        #expect(try await registry.create(owner: 1002, directory: directory, options: EndpointOptions(), now: 1).ownerNumber == 1)
        let next = try transfers.insert(send(owner: 1001))
        #expect(next.ownerNumber == 7 && next.number == 10)
        #expect(try transfers.insert(send(owner: 1000)).ownerNumber == 9)
        #expect(try transfers.insert(send(owner: 1002)).ownerNumber == 1)
    }

    /// The database `aDatabaseOfGlobalNumbersKeepsThemPerOwner` opens, as the old daemon left it.
    private static func writeOldDatabase(_ path: String) throws {
        let old = try SQLiteDatabase(path: path)
        try old.write { db in
            try db.execute(sql: Self.schemaBeforeOwnerNumbers)
            for (number, owner) in [(1, 1000), (2, 1001), (4, 1000), (5, 1001)] {
                try db.execute(
                    sql: """
                        INSERT INTO endpoint (number, public_key, private_key, directory, device, inode, owner, created_usec)
                        VALUES (?, ?, ?, '/srv/in', 1, 2, ?, 1)
                        """,
                    arguments: [number, Data(repeating: UInt8(number), count: 32), Data(repeating: 9, count: 32), owner])
            }
            // Endpoint 3 (user 1000's) and 7 (user 1001's) are gone; their receipts are not.
            try db.execute(sql: "DELETE FROM endpoint WHERE number = 5")
            let transfers: [(Int, Int, String, String)] = [
                (1, 1000, "send", "/"), (2, 1000, "receive", "/org/s2s/Daemon1/endpoint/3"), (3, 1001, "send", "/"),
                (6, 1001, "receive", "/org/s2s/Daemon1/endpoint/7"), (8, 1000, "send", "/"),
            ]
            for (number, owner, direction, endpoint) in transfers {
                try db.execute(
                    sql: """
                        INSERT INTO transfer (number, direction, owner, state, route, endpoint_path, digest_algorithm,
                                              finished_usec, created_usec)
                        VALUES (?, ?, ?, 'done', 'direct', ?, 'xxh3-128', 5, 1)
                        """,
                    arguments: [number, direction, owner, endpoint])
            }
            // Transfer 9 was cleared: the global sequence remembers it, no owner's does.
            try db.execute(sql: "UPDATE sqlite_sequence SET seq = 9 WHERE name = 'transfer'")
        }
    }

    /// The tables of migrations v1 to v7, as they wrote them, and GRDB's record of them.
    static let schemaBeforeOwnerNumbers = """
        CREATE TABLE grdb_migrations (identifier TEXT NOT NULL PRIMARY KEY);
        INSERT INTO grdb_migrations VALUES ('v1: endpoints'), ('v2: receive resume records'), ('v3: send tokens'),
            ('v4: transfers and the send queue'), ('v5: files being published'), ('v6: a send''s changed limit and kept sources'),
            ('v7: what move mode offered');
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
        );
        CREATE INDEX endpoint_owner ON endpoint(owner);
        CREATE TABLE receive_transfer (
            endpoint INTEGER NOT NULL REFERENCES endpoint(number) ON DELETE CASCADE,
            token BLOB NOT NULL CHECK (length(token) = 16),
            digest INTEGER NOT NULL,
            done INTEGER NOT NULL DEFAULT 0,
            last_activity_usec INTEGER NOT NULL,
            PRIMARY KEY (endpoint, token)
        );
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
            publishing INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (endpoint, token, path),
            FOREIGN KEY (endpoint, token) REFERENCES receive_transfer(endpoint, token) ON DELETE CASCADE
        );
        CREATE TABLE send_token (
            key BLOB PRIMARY KEY,
            token BLOB NOT NULL CHECK (length(token) = 16),
            created_usec INTEGER NOT NULL
        );
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
            finished_usec INTEGER NOT NULL DEFAULT 0,
            rate_limit INTEGER,
            kept_sources TEXT NOT NULL DEFAULT '[]'
        );
        CREATE INDEX transfer_finished ON transfer(finished_usec);
        CREATE TABLE send_offered (
            key BLOB NOT NULL,
            path TEXT NOT NULL,
            device INTEGER NOT NULL,
            inode INTEGER NOT NULL,
            size INTEGER NOT NULL,
            mtime_sec INTEGER NOT NULL,
            mtime_nsec INTEGER NOT NULL,
            PRIMARY KEY (key, path)
        ) WITHOUT ROWID;
        """
}
