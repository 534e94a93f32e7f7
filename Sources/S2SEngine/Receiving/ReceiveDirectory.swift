import S2SLinux
#if canImport(Glibc)
import Glibc
#endif

/// One endpoint's directory, as the receiving side writes into it.
///
/// Holds a descriptor of the directory and reaches everything below it through `Beneath`, so
/// no offered path can leave it or follow a symbolic link in it. Every method must run as the
/// endpoint's owner (`UserContext.run`, or `UserContext.receive`): the kernel then applies the
/// owner's permissions and quota, and what is created belongs to the owner.
final class ReceiveDirectory: Sendable {
    /// The endpoint directory, open for reading (`O_DIRECTORY`); closed with the object.
    let fd: Int32

    /// Opens `directory` and checks that it is still the directory that was registered.
    init(opening directory: EndpointDirectory) throws(ReceiveError) {
        let fd = open(directory.path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { throw ReceiveError.system(errno, "cannot open the endpoint directory \(directory.path)") }
        var status = stat()
        guard fstat(fd, &status) == 0 else {
            let code = errno
            close(fd)
            throw ReceiveError.system(code, "cannot examine the endpoint directory \(directory.path)")
        }
        guard UInt64(status.st_dev) == directory.device, UInt64(status.st_ino) == directory.inode else {
            close(fd)
            throw ReceiveError(.accessDenied, "\(directory.path) is no longer the endpoint's directory")
        }
        self.fd = fd
    }

    /// Uses a copy of `descriptor`, an open directory (the caller keeps and closes its own).
    init(duplicating descriptor: Int32) throws(ReceiveError) {
        let fd = fcntl(descriptor, F_DUPFD_CLOEXEC, 3)
        guard fd >= 0 else { throw ReceiveError.system(errno, "cannot duplicate the endpoint descriptor") }
        var status = stat()
        guard fstat(fd, &status) == 0, status.st_mode & S_IFMT == S_IFDIR else {
            close(fd)
            throw ReceiveError(.invalidPath, "the endpoint descriptor is not a directory")
        }
        self.fd = fd
    }

    deinit {
        close(fd)
    }

    /// Opens the directory `path` below the endpoint (the endpoint itself for `nil`). The caller
    /// closes the result.
    func openDirectory(_ path: ReceivePath?) throws(ReceiveError) -> Int32 {
        try Beneath.openDirectory(fd, path?.description ?? ".", what: path.map { "directory \($0)" } ?? "the endpoint")
    }

    // MARK: Directories

    /// Creates the offered directory `name` in `parent` (an actual path, as an earlier call
    /// returned it; `nil` for the top), mode 0700 until `finishDirectory` applies the offered one.
    ///
    /// An existing real directory of that name is used as it is (a retry, or a directory the owner
    /// already had); a file, a symbolic link or anything else in the way makes it `name (1)`,
    /// `name (2)`, ... The caller makes the new entry durable, with ``sync(_:)`` of the parents (one
    /// for many directories), before anything is published into it. Returns the path actually
    /// used, for the entries inside it.
    func makeDirectory(_ name: String, in parent: ReceivePath?) throws(ReceiveError) -> ReceivePath {
        let first = try ReceivePath.child(name, of: parent)
        let parentFD = try openDirectory(parent)
        defer { close(parentFD) }
        for attempt in 0...CollisionName.maximumSuffix {
            let candidate = attempt == 0 ? first.name : CollisionName.candidate(name, attempt: attempt)
            let path = try ReceivePath.child(candidate, of: parent)
            if mkdirat(parentFD, candidate, 0o700) == 0 { return path }
            let code = errno
            guard code == EEXIST else { throw ReceiveError.system(code, "cannot create directory \(path)") }
            do {
                // Only a real directory is reused: the open refuses symbolic links and non-directories.
                let existing = try Beneath.open(parentFD, candidate, flags: O_RDONLY | O_DIRECTORY | O_NOFOLLOW, what: "directory \(path)")
                close(existing)
                return path
            } catch where error.kind == .invalidPath {
                continue  // ELOOP (a symbolic link) or ENOTDIR (a file): take the next name
            }
        }
        throw ReceiveError(.writeFailed, "no free name for directory \(first)")
    }

    /// Applies a received directory's mode (`ReceiveMode.directory`) and mtime, which the caller
    /// makes durable with ``sync(_:)``; called once its contents are written, since writing into
    /// it changes its mtime.
    func finishDirectory(_ path: ReceivePath, offeredMode: UInt16, mtime: ReceiveTime) throws(ReceiveError) {
        let directory = try openDirectory(path)
        defer { close(directory) }
        try Beneath.setAttributes(directory, mode: ReceiveMode.directory(offered: offeredMode), mtime: mtime, what: "directory \(path)")
    }

    /// Makes what changed in `directories` (`nil`: the top of the endpoint) durable: an `fsync`
    /// of each, or from ``PartialArea/fileSystemThreshold`` of them on one `syncfs` (one journal
    /// commit, where an `fsync` each could cost one each).
    func sync(_ directories: Set<ReceivePath?>) throws(ReceiveError) {
        if directories.count >= PartialArea.fileSystemThreshold {
            try Beneath.syncFileSystem(fd, what: "the endpoint")
            return
        }
        for path in directories {
            let directory = try openDirectory(path)
            defer { close(directory) }
            try Beneath.sync(directory, what: path.map { "directory \($0)" } ?? "the endpoint")
        }
    }

    // MARK: Space and quota

    /// Checks that `bytes` more can be written while at least `reserve` bytes stay free for
    /// unprivileged users on the endpoint's file system (`f_bavail`, so root's reserved blocks
    /// do not count). Throws `.insufficientSpace` otherwise.
    func checkSpace(adding bytes: UInt64, reserve: UInt64) throws(ReceiveError) {
        try Self.checkSpace(available: try availableBytes(), adding: bytes, reserve: reserve)
    }

    /// ``checkSpace(adding:reserve:)`` with the `available` bytes given: the rule without the file
    /// system.
    static func checkSpace(available: UInt64, adding bytes: UInt64, reserve: UInt64) throws(ReceiveError) {
        guard available >= reserve, available - reserve >= bytes else {
            throw ReceiveError(.insufficientSpace, "\(bytes) bytes would leave less than the reserve of \(reserve) bytes free (\(available) available)")
        }
    }

    /// Bytes that unprivileged users may still write on the endpoint's file system.
    func availableBytes() throws(ReceiveError) -> UInt64 {
        var fileSystem = statvfs()
        guard fstatvfs(fd, &fileSystem) == 0 else { throw ReceiveError.system(errno, "cannot examine the endpoint's file system") }
        let (product, overflow) = UInt64(fileSystem.f_bavail).multipliedReportingOverflow(by: UInt64(fileSystem.f_frsize))
        return overflow ? .max : product
    }

    /// Checks an endpoint quota: `used` bytes already received (partial data included), `bytes`
    /// more to come, `quota` the limit (`nil`: none). Throws `.quotaExceeded` when it would pass.
    static func checkQuota(used: UInt64, adding bytes: UInt64, quota: UInt64?) throws(ReceiveError) {
        guard let quota else { return }
        let (total, overflow) = used.addingReportingOverflow(bytes)
        guard !overflow, total <= quota else {
            throw ReceiveError(.quotaExceeded, "\(bytes) more bytes would exceed the endpoint quota of \(quota) bytes (\(used) used)")
        }
    }

    // MARK: Partial area

    /// Opens (creating it if needed) the transfer's directory `.s2s-partial/<name>/`, where `name`
    /// is `TransferToken.partialAreaName` (32 lowercase hexadecimal digits). Both are mode 0700.
    func openPartialArea(_ name: String) throws(ReceiveError) -> PartialArea {
        try PartialArea.check(name: name)
        var attempt = 0
        while true {
            attempt += 1
            let area = try openArea(create: true)
            defer { close(area) }
            if mkdirat(area, name, 0o700) != 0 {
                // ENOENT: another transfer of this endpoint ended between our open of the area and
                // this mkdir, found the area empty and removed it (removePartialArea): make it again.
                if errno == ENOENT, attempt < 3 { continue }
                guard errno == EEXIST else { throw ReceiveError.system(errno, "cannot create the partial directory of a transfer") }
            } else {
                try Beneath.sync(area, what: "the partial area")
            }
            let transfer = try Beneath.openDirectory(area, name, what: "the partial directory of a transfer")
            return PartialArea(endpoint: self, name: name, fd: transfer)
        }
    }

    /// The partial directory of a transfer if it exists already (a retry); nil otherwise, without
    /// creating anything: an offer refused for space must leave no trace.
    func existingPartialArea(_ name: String) throws(ReceiveError) -> PartialArea? {
        try PartialArea.check(name: name)
        let area: Int32
        do {
            area = try openArea(create: false)
        } catch where error.systemCode == ENOENT {
            return nil
        }
        defer { close(area) }
        do {
            let transfer = try Beneath.openDirectory(area, name, what: "the partial directory of a transfer")
            return PartialArea(endpoint: self, name: name, fd: transfer)
        } catch where error.systemCode == ENOENT {
            return nil
        }
    }

    /// The transfers' directories in the partial area with their modification times (the last
    /// time a group of partial files was made or removed in them), for expiring abandoned partial
    /// data. Entries that s2s did not create are left out (and left alone).
    func partialAreas() throws(ReceiveError) -> [(name: String, mtime: ReceiveTime)] {
        let area: Int32
        do {
            area = try openArea(create: false)
        } catch where error.systemCode == ENOENT {
            return []
        }
        defer { close(area) }
        var result: [(name: String, mtime: ReceiveTime)] = []
        for entry in try DirectoryEntries.read(area, what: "the partial area") {
            let name = entry.displayName
            guard PartialArea.isValid(name: name) else { continue }
            var status = stat()
            guard fstatat(area, entry.name, &status, AT_SYMLINK_NOFOLLOW) == 0 else {
                if errno == ENOENT { continue }
                throw ReceiveError.system(errno, "cannot examine partial directory \(name)")
            }
            guard status.st_mode & S_IFMT == S_IFDIR else { continue }
            result.append((name, ReceiveTime(seconds: Int64(status.st_mtim.tv_sec), nanoseconds: UInt32(status.st_mtim.tv_nsec))))
        }
        return result.sorted { $0.name < $1.name }
    }

    /// Deletes a transfer's partial directory and everything in it, never following a symbolic
    /// link (links found inside are removed as links). Nothing to delete is not an error.
    func removePartialArea(_ name: String) throws(ReceiveError) {
        try PartialArea.check(name: name)
        let area: Int32
        do {
            area = try openArea(create: false)
        } catch where error.systemCode == ENOENT {
            return
        }
        defer { close(area) }
        try Self.removeTree(Array(name.utf8CString), in: area, what: "partial directory \(name)", depth: 0)
        try Beneath.sync(area, what: "the partial area")
        // The area itself goes once no transfer uses it; another transfer may have just created
        // its directory there, which makes this fail harmlessly (ENOTEMPTY), or be about to, and
        // then makes the area again (openPartialArea).
        if unlinkat(fd, PartialArea.areaName, AT_REMOVEDIR) == 0 {
            try Beneath.sync(fd, what: "the endpoint")
        }
    }

    /// Opens `.s2s-partial`, creating it (0700) first if asked; refuses one that is not a real
    /// directory, and tightens one whose mode is not 0700.
    private func openArea(create: Bool) throws(ReceiveError) -> Int32 {
        if create {
            if mkdirat(fd, PartialArea.areaName, 0o700) == 0 {
                try Beneath.sync(fd, what: "the endpoint")
            } else if errno != EEXIST {
                throw ReceiveError.system(errno, "cannot create the partial area")
            }
        }
        let area = try Beneath.openDirectory(fd, PartialArea.areaName, what: "the partial area")
        do throws(ReceiveError) {
            let status = try Beneath.status(area, what: "the partial area")
            if status.st_mode & 0o7777 != 0o700 {
                guard fchmod(area, 0o700) == 0 else { throw ReceiveError.system(errno, "cannot make the partial area private") }
            }
        } catch {
            close(area)
            throw error
        }
        return area
    }

    /// Removes `name` in `directory`: a directory with its contents, anything else as it is.
    private static func removeTree(_ name: [CChar], in directory: Int32, what: String, depth: Int) throws(ReceiveError) {
        if unlinkat(directory, name, 0) == 0 { return }
        switch errno {
        case ENOENT: return
        case EISDIR: break
        default: throw ReceiveError.system(errno, "cannot remove \(what)")
        }
        guard depth < 16 else { throw ReceiveError(.writeFailed, "cannot remove \(what): nested too deeply") }
        // One component from readdir (no slash) with O_NOFOLLOW: nothing to resolve, nothing followed.
        let child = openat(directory, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        guard child >= 0 else { throw ReceiveError.system(errno, "cannot open \(what)") }
        defer { close(child) }
        for entry in try DirectoryEntries.read(child, what: what) {
            try removeTree(entry.name, in: child, what: what, depth: depth + 1)
        }
        guard unlinkat(directory, name, AT_REMOVEDIR) == 0 || errno == ENOENT else {
            throw ReceiveError.system(errno, "cannot remove \(what)")
        }
    }
}
