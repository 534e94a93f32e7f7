import Crypto
import FoundationEssentials
import S2SSQLite
import S2SProtocol

/// The sender's memory of unfinished transfers (docs/protocol.md, "Resume", Sender): a transfer
/// that ended without DONE_ACK, REFUSE or CANCEL keeps its token, and sending the same sources to
/// the same destination again reuses it, so the receiver resumes instead of starting over.
final class SendTokenStore: Sendable {
    private let database: SQLiteDatabase

    init(database: SQLiteDatabase) {
        self.database = database
    }

    /// What identifies "the same send": the user, the destination, the sources and the options
    /// that shape the offer.
    static func key(owner: UInt32, destination: Destination, sources: [String], digest: DigestAlgorithm, followSymlinks: Bool) -> Data {
        var hash = SHA256()
        hash.update(data: Data("s2s/1 send \(owner) \(destination) \(digest.rawValue) \(followSymlinks)".utf8))
        for source in sources {
            hash.update(data: Data([0]))
            hash.update(data: Data(source.utf8))
        }
        return Data(hash.finalize())
    }

    /// The token of an unfinished transfer with this key, or a new one, recorded.
    func token(for key: Data, now: UInt64) throws -> (token: TransferToken, isRetry: Bool) {
        try database.write { db in
            if let bytes = try db.fetchValue([UInt8].self, sql: "SELECT token FROM send_token WHERE key = ?", arguments: [key]),
                let token = try? TransferToken(bytes: bytes)
            {
                return (token, true)
            }
            let token = TransferToken.random()
            try db.execute(
                sql: "INSERT OR REPLACE INTO send_token (key, token, created_usec) VALUES (?, ?, ?)",
                arguments: [key, Data(token.bytes), Int64(clamping: now)])
            return (token, false)
        }
    }

    /// Forgets a token, and what move mode recorded with it: the transfer ended with DONE_ACK,
    /// REFUSE or CANCEL.
    func forget(key: Data) throws {
        try database.write { db in
            try db.execute(sql: "DELETE FROM send_token WHERE key = ?", arguments: [key])
            try db.execute(sql: "DELETE FROM send_offered WHERE key = ?", arguments: [key])
        }
    }

    /// Move mode: records what each of `sources` looks like at the first offer of it under this
    /// key, and returns the paths that look now as they did then (device, inode, size, mtime).
    /// The receiver holds a file from an earlier attempt only if it was offered then; one that
    /// is unchanged since is the file the receiver confirmed, and may be removed.
    func unchangedSinceFirstOffer(key: Data, sources: [SourceTree.Source]) throws -> Set<String> {
        try database.write { db in
            let find = try db.prepare(
                sql: "SELECT device, inode, size, mtime_sec, mtime_nsec FROM send_offered WHERE key = ? AND path = ?")
            let record = try db.prepare(
                sql: "INSERT INTO send_offered (key, path, device, inode, size, mtime_sec, mtime_nsec) VALUES (?, ?, ?, ?, ?, ?, ?)")
            var unchanged: Set<String> = []
            for source in sources {
                let identity: [Int64] = [
                    Int64(bitPattern: source.device), Int64(bitPattern: source.inode), Int64(clamping: source.size),
                    source.mtimeSeconds, Int64(source.mtimeNanoseconds),
                ]
                if let row = try find.fetchOne(arguments: [key, source.path]) {
                    if try (0..<identity.count).map({ try row[$0] as Int64 }) == identity { unchanged.insert(source.path) }
                } else {
                    try record.execute(arguments: [key, source.path, identity[0], identity[1], identity[2], identity[3], identity[4]])
                }
            }
            return unchanged
        }
    }
}
