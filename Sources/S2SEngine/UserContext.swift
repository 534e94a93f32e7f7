import S2SLinux
import S2SCore
#if canImport(Glibc)
import Glibc
#endif

/// The file-system identity of one user: the UID, the primary GID and the supplementary groups.
///
/// The daemon runs as root but must never read or write on a user's behalf with root's rights;
/// `run` does the work on a thread of its own whose file-system IDs and groups are the user's, so
/// the kernel makes every permission decision as it would for that user.
struct UserContext: Sendable {
    let uid: uid_t
    let gid: gid_t
    let groups: [gid_t]

    /// Looks the user up in the password and group databases.
    static func lookup(uid: uid_t) throws(EngineError) -> UserContext {
        guard let entry = PasswordEntry.lookup(uid: uid) else {
            throw EngineError.accessDenied("user \(uid) is not in the password database")
        }
        let name = entry.name
        let gid = entry.gid
        var count: Int32 = 64
        var groups = [gid_t](repeating: 0, count: Int(count))
        while getgrouplist(name, gid, &groups, &count) < 0 {
            guard count > Int32(groups.count), count <= 65_536 else {
                throw EngineError.failed("cannot list the groups of user \(uid)")
            }
            groups = [gid_t](repeating: 0, count: Int(count))
        }
        return UserContext(uid: uid, gid: gid, groups: Array(groups.prefix(Int(count))))
    }

    /// Runs `body` on a new thread acting as this user for file-system access.
    func run<T: Sendable>(_ body: @escaping @Sendable () throws(EngineError) -> T) async throws(EngineError) -> T {
        let identity = self
        let result: Result<T, EngineError> = await withCheckedContinuation { continuation in
            if let failure = DetachedThread.start({
                continuation.resume(returning: Result { () throws(EngineError) -> T in
                    try identity.adopt()
                    return try body()
                })
            }) {
                continuation.resume(returning: .failure(.failed(failure)))
            }
        }
        return try result.get()
    }

    /// Switches the calling thread (only) to this user's file-system identity.
    func adopt() throws(EngineError) {
        let effective = geteuid()
        if effective == uid { return }
        guard effective == 0 else {
            throw EngineError.accessDenied("the daemon runs as user \(effective) and cannot act for user \(uid)")
        }
        let result = Linux.setThreadGroups(groups)
        guard result == 0 else { throw EngineError.failed("setgroups for user \(uid): \(String(cString: strerror(errno)))") }
        guard Linux.setThreadFilesystemGroup(gid) == 0 else { throw EngineError.failed("setfsgid(\(gid)) failed") }
        guard Linux.setThreadFilesystemUser(uid) == 0 else { throw EngineError.failed("setfsuid(\(uid)) failed") }
    }
}
