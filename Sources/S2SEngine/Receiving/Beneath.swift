import S2SLinux
#if canImport(Glibc)
import Glibc
#endif

/// The only ways the receiving layer reaches a name: relative to a directory descriptor, resolved
/// by the kernel beneath it, with no symbolic link followed anywhere on the way.
///
/// `openat2` with `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS` refuses `..`
/// that would climb out, absolute paths, and every symbolic link (ELOOP, EXDEV), whoever planted
/// it. Operations that take a single name (`mkdirat`, `renameat2`, `unlinkat`) are only ever
/// given one component relative to a descriptor opened this way, so they cannot follow anything
/// either: a final symbolic link is never followed by those calls.
enum Beneath {
    static let resolve: Linux.Resolve = [.beneath, .noSymlinks, .noMagicLinks]

    /// Opens `path` below `directory`; `what` names the object in errors. Returns the descriptor.
    static func open(
        _ directory: Int32, _ path: String, flags: Int32, mode: mode_t = 0, what: String
    ) throws(ReceiveError) -> Int32 {
        guard !path.isEmpty, !path.hasPrefix("/"), !path.utf8.contains(0) else {
            throw ReceiveError(.invalidPath, "cannot open \(what): not a relative path")
        }
        var attempts = 0
        while true {
            let fd = Linux.openat2(directory, path, flags: flags, mode: mode, resolve: resolve)
            if fd >= 0 { return fd }
            let code = errno
            attempts += 1
            // EAGAIN: a concurrent rename somewhere in the file system made RESOLVE_BENEATH unsure.
            if (code == EINTR || code == EAGAIN) && attempts < 16 { continue }
            throw ReceiveError.system(code, "cannot open \(what)")
        }
    }

    /// Opens the directory `path` below `directory` for reading (listing, fsync, `*at` calls).
    static func openDirectory(_ directory: Int32, _ path: String, what: String) throws(ReceiveError) -> Int32 {
        try open(directory, path, flags: O_RDONLY | O_DIRECTORY | O_NOFOLLOW, what: what)
    }

    /// `fstat`, with context.
    static func status(_ fd: Int32, what: String) throws(ReceiveError) -> stat {
        var status = stat()
        guard fstat(fd, &status) == 0 else { throw ReceiveError.system(errno, "cannot examine \(what)") }
        return status
    }

    /// `fsync`, with context.
    static func sync(_ fd: Int32, what: String) throws(ReceiveError) {
        while fsync(fd) != 0 {
            guard errno == EINTR else { throw ReceiveError.system(errno, "cannot sync \(what)") }
        }
    }

    /// `syncfs`, with context: every file's data and every directory's entries on the file system
    /// that holds `fd`, committed together.
    static func syncFileSystem(_ fd: Int32, what: String) throws(ReceiveError) {
        guard Linux.syncfs(fd) == 0 else { throw ReceiveError.system(errno, "cannot sync the file system of \(what)") }
    }

    /// Sets the permission bits and the modification time of an open file or directory; the
    /// access time becomes now.
    static func setAttributes(_ fd: Int32, mode: mode_t, mtime: ReceiveTime, what: String) throws(ReceiveError) {
        guard fchmod(fd, mode) == 0 else { throw ReceiveError.system(errno, "cannot set the mode of \(what)") }
        var times = [timespec(tv_sec: 0, tv_nsec: Linux.UTIME_NOW), mtime.timespec]
        guard futimens(fd, &times) == 0 else { throw ReceiveError.system(errno, "cannot set the time of \(what)") }
    }
}
