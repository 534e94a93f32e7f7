import Crypto
import FoundationEssentials
import Logging
import S2SProtocol
import S2SSQLite
import Synchronization

/// Which endpoints take AES-GCM sessions (HELLO flag 0x0004; docs/protocol.md, "Session
/// preamble"), as their receivers said in earlier sessions with this daemon: the sender must
/// announce its cipher before the handshake, so a session's first connection uses what an earlier
/// one learnt, and ChaChaPoly toward an endpoint it has not met yet.
///
/// Kept in the state database (`aes_endpoint`) as well as in memory, since the daemon exits when
/// idle (`IdleTimeout=`): a send from cron every hour would otherwise always be a first session.
/// The table holds a SHA-256 of each endpoint's public key, not the key, and only what changes is
/// written (a session with an endpoint already known writes nothing). Bounded: forgetting costs
/// nothing but ChaChaPoly for one connection.
final class CipherMemory: Sendable {
    /// Endpoints remembered at most by default; all are forgotten when one more would pass it.
    static let capacity = 4096

    private let bound: Int
    private let endpoints: Mutex<Set<Data>>
    private let database: SQLiteDatabase?
    private let logger: Logger?

    /// A memory that lasts as long as this object (tests, a session on its own).
    init(capacity: Int = CipherMemory.capacity) {
        bound = capacity
        endpoints = Mutex([])
        database = nil
        logger = nil
    }

    /// A memory kept in `database` too, loaded from it now. A database that cannot be read or
    /// written is logged, and the memory serves without it.
    init(database: SQLiteDatabase, logger: Logger, capacity: Int = CipherMemory.capacity) {
        bound = capacity
        self.database = database
        self.logger = logger
        var known: Set<Data> = []
        do {
            known = Set(try database.read { db in
                try db.fetchValues(Data.self, sql: "SELECT key_hash FROM aes_endpoint ORDER BY learnt_usec DESC LIMIT ?", arguments: [Int64(capacity)])
            })
        } catch {
            logger.warning("cannot read which endpoints take AES-GCM; each is met again", metadata: ["error": "\(error)"])
        }
        endpoints = Mutex(known)
    }

    /// The cipher for a new connection to the endpoint whose public key is `endpointKey`.
    /// Only endpoints learnt with ``learn(_:for:)`` are here, which this CPU's lack of hardware AES
    /// keeps empty (``Hello/preferredCipher``).
    func cipher(for endpointKey: [UInt8]) -> NoiseCipher {
        let key = Self.hash(endpointKey)
        return endpoints.withLock { $0.contains(key) } ? .aesGCM : .chaChaPoly
    }

    /// Keeps what the endpoint's receiver said in its HELLO.
    func learn(_ hello: Hello, for endpointKey: [UInt8]) {
        let key = Self.hash(endpointKey)
        guard hello.preferredCipher == .aesGCM else {
            forget(key: key)
            return
        }
        let cleared = endpoints.withLock { endpoints -> Bool? in
            guard !endpoints.contains(key) else { return nil }
            let full = endpoints.count >= bound
            if full { endpoints.removeAll() }
            endpoints.insert(key)
            return full
        }
        guard let cleared else { return }
        // Written once the lock is released, so that no lookup waits for the disk. Two sessions
        // changing one endpoint at once may leave the table a change behind the memory: at worst
        // a ChaChaPoly first session after the next start.
        store { db in
            if cleared { try db.execute(sql: "DELETE FROM aes_endpoint") }
            try db.execute(
                sql: "INSERT OR REPLACE INTO aes_endpoint (key_hash, learnt_usec) VALUES (?, ?)",
                arguments: [key, Int64(clamping: Clock.nowMicroseconds)])
        }
    }

    /// Forgets the endpoint: a connection with AES-GCM failed before its session began (its
    /// receiver may now be one that does not know the cipher).
    func forget(_ endpointKey: [UInt8]) {
        forget(key: Self.hash(endpointKey))
    }

    private func forget(key: Data) {
        guard endpoints.withLock({ $0.remove(key) }) != nil else { return }
        store { db in try db.execute(sql: "DELETE FROM aes_endpoint WHERE key_hash = ?", arguments: [key]) }
    }

    private func store(_ change: (SQLiteConnection) throws -> Void) {
        guard let database else { return }
        do {
            try database.write(change)
        } catch {
            logger?.warning("cannot record which endpoints take AES-GCM", metadata: ["error": "\(error)"])
        }
    }

    private static func hash(_ endpointKey: [UInt8]) -> Data {
        Data(SHA256.hash(data: endpointKey))
    }
}
