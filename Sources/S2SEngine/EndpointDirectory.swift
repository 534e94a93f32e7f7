import S2SLinux
#if canImport(Glibc)
import Glibc
#endif

/// A directory that a user may turn into an endpoint, checked as that user.
package struct EndpointDirectory: Sendable, Equatable {
    /// The canonical absolute path, as the kernel resolved it.
    package let path: String
    /// Identifies the directory itself, so that a later swap of the path for another is noticed.
    package let device: UInt64
    package let inode: UInt64

    package static let maximumPathLength = Int(PATH_MAX) - 1

    /// Resolves and checks `requested` for `owner`. Must run as that user (`UserContext.run`):
    /// the kernel then refuses what the user could not reach, and the checks here add what the
    /// daemon requires on top: a real directory, not a symbolic link, owned and writable by the
    /// caller (any directory for root), on a writable file system, and not in a directory that
    /// the daemon's sandbox makes private to it (`sandbox`; see `SandboxView`).
    static func check(_ requested: String, owner: uid_t, sandbox: SandboxView = .none) throws(EngineError) -> EndpointDirectory {
        guard !requested.isEmpty else { throw .invalidPath("the directory path is empty") }
        guard !requested.utf8.contains(0) else { throw .invalidPath("the directory path contains a NUL byte") }
        guard requested.utf8.count <= maximumPathLength else {
            throw .invalidPath("the directory path is longer than \(maximumPathLength) bytes")
        }
        guard requested.hasPrefix("/") else { throw .invalidPath("the directory path must be absolute: \(requested)") }
        // A trailing slash would make the kernel follow a final symbolic link.
        var path = Substring(requested)
        while path.count > 1, path.hasSuffix("/") { path = path.dropLast() }
        let display = String(path)
        if let hidden = sandbox.privateDirectory(containing: display) { throw privateDirectory(display, hidden) }

        let fd = open(display, Linux.O_PATH | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw openFailure(errno, display) }
        defer { close(fd) }
        var status = stat()
        guard fstat(fd, &status) == 0 else { throw .failed("cannot examine \(display): \(String(cString: strerror(errno)))") }
        switch status.st_mode & S_IFMT {
        case S_IFDIR: break
        case S_IFLNK: throw .invalidPath("\(display) is a symbolic link; give the directory it points to")
        default: throw .invalidPath("\(display) is not a directory")
        }
        if owner != 0 {
            guard status.st_uid == owner else { throw .accessDenied("\(display) is not owned by you") }
            guard status.st_mode & (S_IWUSR | S_IXUSR) == (S_IWUSR | S_IXUSR) else {
                throw .accessDenied("\(display) is not writable by its owner")
            }
        }
        let canonical = try canonicalPath(of: fd, display: display)
        // A symbolic link on the way may have led into a private directory.
        if let hidden = sandbox.privateDirectory(containing: canonical) { throw privateDirectory(display, hidden) }
        var fileSystem = statvfs()
        guard fstatvfs(fd, &fileSystem) == 0 else { throw .failed("cannot examine the file system of \(display)") }
        guard fileSystem.f_flag & UInt(ST_RDONLY) == 0 else { throw readOnly(display, canonical) }

        return EndpointDirectory(path: canonical, device: UInt64(status.st_dev), inode: UInt64(status.st_ino))
    }

    private static func privateDirectory(_ display: String, _ hidden: String) -> EngineError {
        .invalidPath(
            "\(display) is in \(hidden), which the daemon cannot share with you: its service runs with a private \(hidden) "
                + "(PrivateTmp=yes in s2sd.service). Use a directory elsewhere, such as one in your home directory")
    }

    /// A read-only file system, or a writable one that is mounted read-only for the daemon only
    /// (`ProtectSystem=strict` outside `ReadWritePaths=`): the message tells which.
    private static func readOnly(_ display: String, _ canonical: String) -> EngineError {
        if let text = MountTable.readOwn(), let mount = MountTable(parsing: text).mount(containing: canonical),
            mount.readOnly, !mount.fileSystemReadOnly
        {
            return .invalidPath(
                "\(display) is read-only for the daemon: its service may write only below the directories of "
                    + "ReadWritePaths= in s2sd.service (ProtectSystem=strict); an administrator can add one with a drop-in "
                    + "(docs/systemd.md)")
        }
        return .invalidPath("\(display) is on a read-only file system")
    }

    private static func canonicalPath(of fd: Int32, display: String) throws(EngineError) -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let length = readlink("/proc/self/fd/\(fd)", &buffer, buffer.count - 1)
        guard length > 0 else { throw .failed("cannot resolve \(display): \(String(cString: strerror(errno)))") }
        let bytes = buffer.prefix(length).map { UInt8(bitPattern: $0) }
        let resolved = String(decoding: bytes, as: UTF8.self)
        // "/proc/self/fd" names a deleted or unreachable directory differently; refuse those.
        guard resolved.hasPrefix("/"), !resolved.hasSuffix(" (deleted)") else {
            throw .invalidPath("\(display) is not reachable from the daemon")
        }
        return resolved
    }

    private static func openFailure(_ code: Int32, _ path: String) -> EngineError {
        switch code {
        case ENOENT: .invalidPath("\(path) does not exist")
        case ENOTDIR: .invalidPath("a component of \(path) is not a directory")
        case ELOOP: .invalidPath("\(path) has too many levels of symbolic links")
        case ENAMETOOLONG: .invalidPath("\(path) is too long")
        case EACCES, EPERM: .accessDenied("permission denied: \(path)")
        default: .failed("cannot open \(path): \(String(cString: strerror(code)))")
        }
    }
}
