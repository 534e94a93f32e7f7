import S2SProtocol
#if canImport(Glibc)
import Glibc
#endif

/// What one send offers: the entries in offer order (each directory before what it holds) and,
/// for each file, where to read it and what it looked like when scanned.
///
/// `scan` must run as the sending user (`UserContext.run`): it only sees what that user can see,
/// and every source is read later as that user too.
struct SourceTree: Sendable {
    /// A file to read, as it was when scanned; a file that differs when it is read is aborted.
    struct Source: Sendable, Equatable {
        let path: String
        let device: UInt64
        let inode: UInt64
        let size: UInt64
        let mtimeSeconds: Int64
        let mtimeNanoseconds: UInt32
    }

    private(set) var entries: [OfferEntry] = []
    /// Per entry: the file to read; nil for directories.
    private(set) var sources: [Source?] = []
    /// What was skipped, and why, for the user.
    private(set) var warnings: [String] = []
    private(set) var totalBytes: UInt64 = 0
    private(set) var fileCount = 0

    /// Scans `paths` (absolute). Each becomes a top-level entry named by its last component; a
    /// directory brings everything below it. Symbolic links are skipped with a warning unless
    /// `followSymlinks`; devices, FIFOs and sockets always are, and so are names the protocol
    /// cannot carry (control characters, invalid UTF-8). Throws for a source that cannot be
    /// read at all, two sources with the same name, or more entries than `maxEntries`.
    /// `skippingMissing`: a source that no longer exists is left out with a warning instead of
    /// failing the scan (move mode, when an earlier attempt may have removed it after delivery);
    /// the tree may then be empty.
    static func scan(_ paths: [String], followSymlinks: Bool, maxEntries: Int, skippingMissing: Bool = false) throws(EngineError) -> SourceTree {
        var tree = SourceTree()
        var topNames: Set<PathKey> = []
        for path in paths {
            guard path.hasPrefix("/") else { throw .invalidPath("\(path) is not an absolute path") }
            let trimmed = path.count > 1 && path.hasSuffix("/") ? String(path.dropLast()) : path
            guard let name = trimmed.split(separator: "/").last.map(String.init) else {
                throw .invalidPath("cannot send the root directory")
            }
            guard topNames.insert(PathKey(name)).inserted else {
                throw .invalidArgument("two sources are named \"\(name)\"; the receiver would get only one")
            }
            var status = stat()
            guard (followSymlinks ? stat(trimmed, &status) : lstat(trimmed, &status)) == 0 else {
                if skippingMissing, errno == ENOENT {
                    tree.warnings.append("\(path) is gone (moved by an earlier attempt)")
                    continue
                }
                throw .invalidPath("cannot read \(path): \(String(cString: strerror(errno)))")
            }
            let unreadable = Self.unreadable(trimmed, in: AT_FDCWD, status: status, followSymlinks: followSymlinks)
            try tree.add(
                path: trimmed, relative: name, status: Examined(status), unreadable: unreadable, followSymlinks: followSymlinks,
                maxEntries: maxEntries, depth: 0)
        }
        guard !tree.entries.isEmpty || skippingMissing else { throw .invalidArgument("nothing to send: \(tree.warnings.joined(separator: "; "))") }
        return tree
    }

    /// Adds the entry at `path` (and, for a directory, everything below it). `unreadable`: why the
    /// user cannot read it, for a regular file (nil: it can).
    private mutating func add(
        path: String, relative: String, status: Examined, unreadable: String?, followSymlinks: Bool, maxEntries: Int, depth: Int
    ) throws(EngineError) {
        let relativePath: RelativePath
        do {
            relativePath = try RelativePath(relative)
        } catch {
            warnings.append("skipped \(path): its name cannot be sent (\(error))")
            return
        }
        let mode = UInt16(status.mode & 0o777)
        let mtime = (status.mtimeSeconds, status.mtimeNanoseconds)
        switch status.mode & S_IFMT {
        case S_IFREG:
            // Read permission is checked now, as the user, so that the send fails at once rather
            // than at its first attempt; a file inside a directory is skipped with a warning.
            if let error = unreadable {
                guard depth > 0 else { throw .accessDenied("cannot read \(path): \(error)") }
                warnings.append("skipped \(path): \(error)")
                return
            }
            try reserve(maxEntries)
            let size = status.size
            entries.append(.init(kind: .file, mode: mode, mtimeSeconds: mtime.0, mtimeNanoseconds: mtime.1, size: size, path: relativePath))
            sources.append(Source(
                path: path, device: status.device, inode: status.inode, size: size,
                mtimeSeconds: mtime.0, mtimeNanoseconds: mtime.1))
            totalBytes += size
            fileCount += 1
        case S_IFDIR:
            guard depth < 256 else { throw .invalidPath("\(path): directories nested more than 256 deep") }
            try reserve(maxEntries)
            entries.append(.init(kind: .directory, mode: mode, mtimeSeconds: mtime.0, mtimeNanoseconds: mtime.1, size: 0, path: relativePath))
            sources.append(nil)
            for child in try Self.children(of: path, followSymlinks: followSymlinks) {
                let childPath = path == "/" ? "/" + child.name : path + "/" + child.name
                switch child.status {
                case .success(let status):
                    try add(
                        path: childPath, relative: relative + "/" + child.name, status: status, unreadable: child.unreadable,
                        followSymlinks: followSymlinks, maxEntries: maxEntries, depth: depth + 1)
                case .failure(let error):
                    warnings.append("skipped \(childPath): \(error.message)")
                }
            }
        case S_IFLNK:
            warnings.append("skipped symbolic link \(path) (--follow-symlinks sends what it points to)")
        default:
            warnings.append("skipped \(path): not a regular file or directory")
        }
    }

    private func reserve(_ maxEntries: Int) throws(EngineError) {
        guard entries.count < maxEntries else {
            throw .limitExceeded("more than \(maxEntries) files and directories; receivers accept at most that many in one transfer")
        }
    }

    /// What the scan keeps of a `stat`: a third of its size, for directories of many entries.
    private struct Examined {
        let mode: mode_t
        let size: UInt64
        let mtimeSeconds: Int64
        let mtimeNanoseconds: UInt32
        let device: UInt64
        let inode: UInt64

        init(_ status: stat) {
            mode = status.st_mode
            size = UInt64(clamping: status.st_size)
            mtimeSeconds = Int64(status.st_mtim.tv_sec)
            mtimeNanoseconds = UInt32(clamping: status.st_mtim.tv_nsec)
            device = UInt64(status.st_dev)
            inode = UInt64(status.st_ino)
        }
    }

    /// An entry of a directory being scanned, examined relative to the open directory (the
    /// kernel does not walk the whole path again for each name, twice).
    private struct Child {
        struct Failure: Error { let message: String }
        let name: String
        let status: Result<Examined, Failure>
        /// For a regular file: why the user cannot read it (nil: it can).
        let unreadable: String?
    }

    /// The entries of directory `path`, sorted bytewise by name (so a retry offers the same
    /// order), each examined (`fstatat`, and `faccessat` for a regular file) before the directory
    /// is closed: one descriptor at a time, however deep the tree.
    private static func children(of path: String, followSymlinks: Bool) throws(EngineError) -> [Child] {
        let fd = Glibc.open(path, O_RDONLY | O_DIRECTORY | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0, let directory = fdopendir(fd) else {
            let code = errno
            if fd >= 0 { close(fd) }
            throw .invalidPath("cannot read directory \(path): \(String(cString: strerror(code)))")
        }
        defer { closedir(directory) }
        return try names(in: directory, path: path).map { name in
            var status = stat()
            guard fstatat(fd, name, &status, followSymlinks ? 0 : AT_SYMLINK_NOFOLLOW) == 0 else {
                return Child(name: name, status: .failure(.init(message: String(cString: strerror(errno)))), unreadable: nil)
            }
            let unreadable = Self.unreadable(name, in: fd, status: status, followSymlinks: followSymlinks)
            return Child(name: name, status: .success(Examined(status)), unreadable: unreadable)
        }
    }

    /// The names in the open `directory` (at `path`, for messages), sorted bytewise.
    private static func names(in directory: OpaquePointer, path: String) throws(EngineError) -> [String] {
        var names: [String] = []
        while true {
            errno = 0
            guard let entry = readdir(directory) else {
                guard errno == 0 else { throw .invalidPath("cannot read directory \(path): \(String(cString: strerror(errno)))") }
                break
            }
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    // MARK: Reading

    /// Opens a scanned file for reading (as the user, like `scan`) and checks that it is still the
    /// file that was offered. Returns the descriptor, or nil if it changed or vanished.
    ///
    /// The open never blocks: a source swapped for a FIFO after the scan would otherwise hold a
    /// thread (and the send's slot) until a writer came, beyond the reach of Cancel and SIGTERM.
    /// `O_NONBLOCK` makes that open return at once; `fstat` then finds no regular file.
    static func open(_ source: Source, followSymlinks: Bool) -> Int32? {
        let fd = openWithoutBlocking(source.path, followSymlinks: followSymlinks)
        guard fd >= 0 else { return nil }
        guard unchanged(fd, source) else {
            close(fd)
            return nil
        }
        return fd
    }

    /// `open(path, O_RDONLY)` that cannot block, with `O_NONBLOCK` cleared again on success (it
    /// means nothing for a regular file, but reads should not see it).
    private static func openWithoutBlocking(_ path: String, followSymlinks: Bool) -> Int32 {
        let fd = Glibc.open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC | (followSymlinks ? 0 : O_NOFOLLOW))
        guard fd >= 0 else { return fd }
        // Of the flags F_SETFL sets, the open asked for O_NONBLOCK alone: clearing them all
        // clears it, without reading them first.
        _ = fcntl(fd, F_SETFL, 0)
        return fd
    }

    /// Why the user cannot read the regular file at `path`, whose `status` the scan took (nil: it
    /// can, or it is no regular file, which is not read). Only the kernel knows (ACLs,
    /// the thread's file-system UID and groups): `faccessat` with `AT_EACCESS` asks it with the
    /// thread's own credentials, as an open would, in one call instead of an open, two `fcntl`
    /// and a close for each file of a tree. `path` is relative to `directory` (`AT_FDCWD` for an
    /// absolute path).
    private static func unreadable(_ path: String, in directory: Int32, status: stat, followSymlinks: Bool) -> String? {
        guard status.st_mode & S_IFMT == S_IFREG else { return nil }
        guard faccessat(directory, path, R_OK, AT_EACCESS | (followSymlinks ? 0 : AT_SYMLINK_NOFOLLOW)) == 0 else {
            return String(cString: strerror(errno))
        }
        return nil
    }

    /// Move mode: unlinks `source.path` if it still names the very file that was scanned and
    /// sent (same device, inode, size and modification time, a regular file, not a symbolic
    /// link); returns why it was kept otherwise, nil once it is gone. Runs as the sending user.
    static func removeIfUnchanged(_ source: Source) -> String? {
        var status = stat()
        guard lstat(source.path, &status) == 0 else {
            return errno == ENOENT ? "it is gone already" : "cannot look at it: \(String(cString: strerror(errno)))"
        }
        guard status.st_mode & S_IFMT == S_IFREG else { return "it is not the regular file that was sent (a symbolic link?)" }
        guard UInt64(status.st_dev) == source.device, UInt64(status.st_ino) == source.inode,
            UInt64(status.st_size) == source.size, Int64(status.st_mtim.tv_sec) == source.mtimeSeconds,
            UInt32(status.st_mtim.tv_nsec) == source.mtimeNanoseconds
        else { return "it changed after it was sent" }
        guard unlink(source.path) == 0 else { return "cannot remove it: \(String(cString: strerror(errno)))" }
        return nil
    }

    /// Whether something (even a dangling symbolic link) is at `path`.
    static func exists(_ path: String) -> Bool {
        var status = stat()
        return lstat(path, &status) == 0
    }

    /// Whether the open file `fd` still has the identity, size and mtime `source` recorded.
    static func unchanged(_ fd: Int32, _ source: Source) -> Bool {
        var status = stat()
        guard fstat(fd, &status) == 0 else { return false }
        return status.st_mode & S_IFMT == S_IFREG && UInt64(status.st_dev) == source.device
            && UInt64(status.st_ino) == source.inode && UInt64(status.st_size) == source.size
            && Int64(status.st_mtim.tv_sec) == source.mtimeSeconds && UInt32(status.st_mtim.tv_nsec) == source.mtimeNanoseconds
    }
}
