import Foundation
@testable import S2SEngine

/// A scratch tree for receive tests: `root` (0755) holding `endpoint`, the directory received
/// into, and `outside`, which nothing may ever touch. Removed by `remove()`.
struct ReceiveFixture: Sendable {
    let root: String
    var endpoint: String { root + "/endpoint" }
    var outside: String { root + "/outside" }

    init(owner: uid_t? = nil) throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("s2s-receive-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root + "/endpoint", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: root + "/outside", withIntermediateDirectories: true)
        guard chmod(root, 0o755) == 0, chmod(root + "/endpoint", 0o755) == 0 else { throw FixtureError("chmod failed") }
        if let owner {
            guard chown(root + "/endpoint", owner, owner) == 0 else { throw FixtureError("chown failed") }
        }
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: root)
    }

    /// The endpoint, checked and opened as `uid` the way the daemon does it.
    func open(as uid: uid_t = getuid()) async throws -> ReceiveDirectory {
        let user = try UserContext.lookup(uid: uid)
        let path = endpoint
        let directory = try await user.run { () throws(EngineError) in try EndpointDirectory.check(path, owner: uid) }
        return try await user.receive { () throws(ReceiveError) in try ReceiveDirectory(opening: directory) }
    }

    /// The names in `directory` (relative to the root), sorted.
    func list(_ directory: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: root + "/" + directory)) ?? []).sorted()
    }

    func contents(_ path: String) -> [UInt8]? {
        FileManager.default.contents(atPath: root + "/" + path).map { Array($0) }
    }

    func write(_ path: String, _ text: String) throws {
        guard FileManager.default.createFile(atPath: root + "/" + path, contents: Data(text.utf8)) else {
            throw FixtureError("cannot create \(path)")
        }
    }

    func symlink(_ path: String, to target: String) throws {
        try FileManager.default.createSymbolicLink(atPath: root + "/" + path, withDestinationPath: target)
    }

    func status(_ path: String) -> stat? {
        var status = stat()
        return lstat(root + "/" + path, &status) == 0 ? status : nil
    }
}

struct FixtureError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Test data: `count` bytes of a fixed pattern.
func pattern(_ count: Int) -> [UInt8] {
    (0..<count).map { UInt8($0 % 251) }
}

/// The XXH3-128 digest of `bytes`.
func xxh3(_ bytes: [UInt8]) throws(ReceiveError) -> [UInt8] {
    var digest = try FileDigest(.xxh3_128)
    digest.update(bytes)
    return digest.finalize()
}

/// A fixed partial directory name (any 32 lowercase hex digits).
let transferName = "634bfc4ff0bf3f01b9c32acce56bd82e"
