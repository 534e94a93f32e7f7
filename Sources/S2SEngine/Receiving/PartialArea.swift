import S2SProtocol
import S2SLinux
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// One transfer's directory in the endpoint's hidden partial area, `.s2s-partial/<name>/`
/// (docs/protocol.md, "Resume"): files arrive here under opaque names, become durable in
/// batches, and are then renamed into their final places, never replacing anything.
///
/// Files are kept ``groupSize`` to a subdirectory, `g<slot / groupSize>/<slot>`. In one directory
/// for the whole transfer, every create waited for the directory's lock behind the batch being
/// renamed out of it and searched a directory of a thousand names; in groups, a create and a rename
/// touch directories of a few dozen names, mostly different ones (on journaled ext4, 4 KiB files
/// created, written, renamed by two threads: ~40 µs of kernel time a file against ~63). Empty
/// groups are removed as their files are published.
///
/// Opened by `ReceiveDirectory.openPartialArea`; like it, used only as the endpoint's owner.
final class PartialArea: Sendable {
    /// The hidden directory inside the endpoint that holds every transfer's partial data.
    static let areaName = ".s2s-partial"

    /// How `sync` makes a batch of files durable.
    enum SyncStrategy: Sendable {
        /// `fsync` each file, one after the other.
        case eachFile
        /// One `syncfs` of the endpoint's file system: a single journal commit for the whole
        /// batch, however many files it holds (it also flushes other dirty data on that file
        /// system, which would have to be written anyway).
        case fileSystem
        /// `eachFile` for small batches, `fileSystem` from `fileSystemThreshold` files on.
        case automatic
    }

    /// From this many files on, `.automatic` syncs the file system instead of each file.
    static let fileSystemThreshold = 4

    /// A published file: where it ended up (the offered name, or one with a suffix).
    struct Published: Sendable, Equatable {
        let index: UInt32
        let path: ReceivePath
    }

    /// A file to publish, with the actual directory it goes to (as `makeDirectory` returned it;
    /// `nil` for the top of the endpoint) and its offered name.
    struct PublishRequest: Sendable {
        let file: PartialFile
        let directory: ReceivePath?
        let name: String
    }

    let endpoint: ReceiveDirectory
    /// `TransferToken.partialAreaName`.
    let name: String
    /// The transfer's partial directory; closed with the object.
    let fd: Int32

    /// How many slots share a group directory.
    static let groupSize: UInt32 = 64

    /// A group directory, open; closed when the last user lets go of it, so that one thread's
    /// create cannot find it closed by another thread's next group.
    private final class Group: Sendable {
        let number: UInt32
        let fd: Int32

        init(number: UInt32, fd: Int32) {
            self.number = number
            self.fd = fd
        }

        deinit {
            close(fd)
        }
    }

    /// The group files were last created in: creates come in slot order, a group at a time.
    private let creatingIn = Mutex<Group?>(nil)

    init(endpoint: ReceiveDirectory, name: String, fd: Int32) {
        self.endpoint = endpoint
        self.name = name
        self.fd = fd
    }

    deinit {
        close(fd)
    }

    /// The opaque name of slot `index`'s partial file in its group directory.
    static func fileName(index: UInt32) -> String { String(index) }

    /// The name of group directory `number`.
    static func groupName(number: UInt32) -> String { "g" + String(number) }

    /// The name of the group directory that holds slot `index`'s partial file.
    static func groupName(index: UInt32) -> String { groupName(number: index / groupSize) }

    /// Where slot `index`'s partial file is, relative to the transfer's directory, for messages.
    static func displayName(index: UInt32) -> String { groupName(index: index) + "/" + fileName(index: index) }

    /// Whether `name` looks like a transfer's partial directory: 32 lowercase hexadecimal digits.
    static func isValid(name: String) -> Bool {
        name.utf8.count == 32 && name.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }

    static func check(name: String) throws(ReceiveError) {
        guard isValid(name: name) else { throw ReceiveError(.invalidPath, "not a partial directory name: \(name)") }
    }

    // MARK: Files

    /// Starts entry `index` from zero (an earlier partial file of it is emptied).
    func createFile(index: UInt32, algorithm: FileDigest.Algorithm) throws(ReceiveError) -> PartialFile {
        let digest = try FileDigest(algorithm)
        let fd = try createInGroup(index: index)
        do throws(ReceiveError) {
            try Self.checkRegular(fd, index: index)
        } catch {
            close(fd)
            throw error
        }
        return PartialFile(index: index, fd: fd, digest: digest, length: 0)
    }

    /// Continues entry `index` at `offset`, the verified, durable length the receiver recorded:
    /// anything beyond it is cut off, and the digest is brought up to `offset` by reading the
    /// prefix back, so the final digest covers every byte. Throws if the partial file is missing
    /// or shorter (the caller then starts the file at 0).
    func resumeFile(index: UInt32, at offset: UInt64, algorithm: FileDigest.Algorithm) throws(ReceiveError) -> PartialFile {
        var digest = try FileDigest(algorithm)
        let fd = try openExisting(index: index)
        do throws(ReceiveError) {
            let size = try Self.checkRegular(fd, index: index)
            guard size >= offset else {
                throw ReceiveError(.writeFailed, "partial file \(index) holds \(size) bytes, fewer than the resume offset \(offset)")
            }
            if size > offset {
                guard ftruncate(fd, off_t(offset)) == 0 else { throw ReceiveError.system(errno, "cannot truncate partial file \(index)") }
            }
            try Self.hashPrefix(fd, length: offset, into: &digest, index: index)
        } catch {
            close(fd)
            throw error
        }
        return PartialFile(index: index, fd: fd, digest: digest, length: offset)
    }

    /// Deletes entry `index`'s partial file, if there is one.
    func removeFile(index: UInt32) throws(ReceiveError) {
        let name = Self.fileName(index: index)
        if let group = try existingGroup(index / Self.groupSize) {
            defer { close(group) }
            guard unlinkat(group, name, 0) == 0 || errno == ENOENT else {
                throw ReceiveError.system(errno, "cannot remove partial file \(Self.displayName(index: index))")
            }
        }
        guard unlinkat(fd, name, 0) == 0 || errno == ENOENT else {  // an earlier version's
            throw ReceiveError.system(errno, "cannot remove partial file \(index)")
        }
    }

    /// The size of entry `index`'s partial file, or `nil` if there is none.
    func partialLength(index: UInt32) throws(ReceiveError) -> UInt64? {
        let name = Self.fileName(index: index)
        var status = stat()
        let group = try existingGroup(index / Self.groupSize)
        defer { if let group { close(group) } }
        if let group, fstatat(group, name, &status, AT_SYMLINK_NOFOLLOW) == 0 {
            return status.st_mode & S_IFMT == S_IFREG ? UInt64(status.st_size) : nil
        } else if group != nil, errno != ENOENT {
            throw ReceiveError.system(errno, "cannot examine partial file \(Self.displayName(index: index))")
        }
        guard fstatat(fd, name, &status, AT_SYMLINK_NOFOLLOW) == 0 else {  // an earlier version's
            if errno == ENOENT { return nil }
            throw ReceiveError.system(errno, "cannot examine partial file \(index)")
        }
        guard status.st_mode & S_IFMT == S_IFREG else { return nil }
        return UInt64(status.st_size)
    }

    // MARK: Groups

    /// Creates (or empties) slot `index`'s partial file in its group, making the group first if
    /// needed. A group can vanish under the create: publishing removes groups it found empty, and
    /// the one being filled is empty between its last file published and its next created.
    private func createInGroup(index: UInt32) throws(ReceiveError) -> Int32 {
        let number = index / Self.groupSize
        var attempts = 0
        while true {
            attempts += 1
            let group = try creatingGroup(number)
            do {
                return try Beneath.open(
                    group.fd, Self.fileName(index: index), flags: O_RDWR | O_CREAT | O_TRUNC | O_NOFOLLOW, mode: 0o600,
                    what: "partial file \(Self.displayName(index: index))")
            } catch where error.systemCode == ENOENT && attempts < 3 {
                creatingIn.withLock { if $0?.number == number { $0 = nil } }
            }
        }
    }

    /// The open group `number` for creating files in, made if it is not there.
    private func creatingGroup(_ number: UInt32) throws(ReceiveError) -> Group {
        if let open = creatingIn.withLock({ $0 }), open.number == number { return open }
        let name = Self.groupName(number: number)
        guard mkdirat(fd, name, 0o700) == 0 || errno == EEXIST else {
            throw ReceiveError.system(errno, "cannot create partial group \(name)")
        }
        let group = Group(number: number, fd: try Beneath.openDirectory(fd, name, what: "partial group \(name)"))
        creatingIn.withLock { $0 = group }
        return group
    }

    /// Group directory `number`, open, or `nil` if there is none.
    private func existingGroup(_ number: UInt32) throws(ReceiveError) -> Int32? {
        let name = Self.groupName(number: number)
        do {
            return try Beneath.openDirectory(fd, name, what: "partial group \(name)")
        } catch where error.systemCode == ENOENT {
            return nil
        }
    }

    /// Group directory `number`, open, where files of a batch are: missing, it is an error.
    private func requiredGroup(_ number: UInt32) throws(ReceiveError) -> Int32 {
        guard let group = try existingGroup(number) else {
            throw ReceiveError(.writeFailed, "partial group \(Self.groupName(number: number)) is missing")
        }
        return group
    }

    /// Opens slot `index`'s partial file to continue it. One that an earlier version left at the
    /// top of the transfer's directory is moved into its group first, so that a transfer
    /// interrupted by an upgrade resumes where it stopped.
    private func openExisting(index: UInt32) throws(ReceiveError) -> Int32 {
        let name = Self.fileName(index: index)
        let what = "partial file \(Self.displayName(index: index))"
        let group = try creatingGroup(index / Self.groupSize)
        do {
            return try Beneath.open(group.fd, name, flags: O_RDWR | O_NOFOLLOW, what: what)
        } catch where error.systemCode == ENOENT {
            guard Linux.renameNoReplace(fd, name, group.fd, name) == 0 else {
                if errno == ENOENT { throw error }
                throw ReceiveError.system(errno, "cannot move \(what) into its group")
            }
            return try Beneath.open(group.fd, name, flags: O_RDWR | O_NOFOLLOW, what: what)
        }
    }

    // MARK: Durability and publishing

    /// Makes `files` (each `finish`ed) and this directory durable, in one batch: the data, mode
    /// and mtime of every file, then the directory once (a `syncfs` has already committed it).
    /// Afterwards the files can be published. On failure every file of the batch is marked failed.
    func sync(_ files: [PartialFile], strategy: SyncStrategy = .automatic) throws(ReceiveError) {
        guard !files.isEmpty else { return }
        for file in files where file.phase != .verified {
            throw ReceiveError(.writeFailed, "partial file \(file.name) was not verified before syncing")
        }
        // A file without its descriptor (`ReceiveBatch` closes them in large batches) can only
        // be made durable by a sync of the file system.
        let whole = strategy == .fileSystem
            || (strategy == .automatic && (files.count >= Self.fileSystemThreshold || files.contains { $0.fd < 0 }))
        do throws(ReceiveError) {
            if whole {
                try syncFileSystem()
            } else {
                for file in files {
                    try Beneath.sync(file.fd, what: "partial file \(file.name)")
                }
                for number in Set(files.map { $0.slot / Self.groupSize }) {
                    let group = try requiredGroup(number)
                    defer { close(group) }
                    try Beneath.sync(group, what: "partial group \(Self.groupName(number: number))")
                }
                try Beneath.sync(fd, what: "the partial directory")
            }
        } catch {
            for file in files { file.fail() }
            throw error
        }
        for file in files {
            _ = file.advance(from: .verified, to: .durable)
        }
    }

    /// Renames each durable file to its final place: its offered name in its directory, or the
    /// first free `name (n)` if that is taken (`renameat2` with `RENAME_NOREPLACE`: nothing is
    /// ever overwritten, and a symbolic link of that name counts as taken). Then each destination
    /// directory is synced once, so the new names are durable before the results are reported:
    /// from ``fileSystemThreshold`` directories on, with one `syncfs` (one journal commit, where
    /// a `fsync` per directory could cost one each on a file system without a journal).
    /// Without `syncingNames` the caller makes the names durable later, with ``syncFileSystem()``
    /// (a rename never leaves the file system, so that covers every directory).
    /// Returns one result per request, in order.
    func publish(_ requests: [PublishRequest], syncingNames: Bool = true) -> [Result<Published, ReceiveError>] {
        var results: [Result<Published, ReceiveError>] = []
        results.reserveCapacity(requests.count)
        var directories: [ReceivePath?: Int32] = [:]
        var directoryOf: [Int: ReceivePath?] = [:]
        var groups: [UInt32: Int32] = [:]
        defer {
            for fd in directories.values { close(fd) }
            removeEmptyGroups(groups)
        }
        for (position, request) in requests.enumerated() {
            // Not ready (a caller's mistake): refused, and the file is left as it was.
            guard request.file.phase == .durable else {
                results.append(.failure(ReceiveError(.writeFailed, "partial file \(request.file.name) is not verified and durable")))
                continue
            }
            do throws(ReceiveError) {
                let target: Int32
                if let open = directories[request.directory] {
                    target = open
                } else {
                    target = try endpoint.openDirectory(request.directory)
                    directories[request.directory] = target
                }
                let number = request.file.slot / Self.groupSize
                let source: Int32
                if let open = groups[number] {
                    source = open
                } else {
                    source = try requiredGroup(number)
                    groups[number] = source
                }
                let path = try rename(request.file, from: source, into: target, directory: request.directory, name: request.name)
                _ = request.file.advance(from: .durable, to: .published)
                directoryOf[position] = request.directory
                results.append(.success(Published(index: request.file.slot, path: path)))
            } catch {
                request.file.fail()
                results.append(.failure(error))
            }
        }
        guard syncingNames else { return results }
        if directories.count >= Self.fileSystemThreshold {
            do throws(ReceiveError) {
                try syncFileSystem()
            } catch {
                for position in directoryOf.keys { results[position] = .failure(error) }
            }
            return results
        }
        for (directory, fd) in directories {
            do throws(ReceiveError) {
                try Beneath.sync(fd, what: directory.map { "directory \($0)" } ?? "the endpoint")
            } catch {
                for (position, published) in directoryOf where published == directory {
                    results[position] = .failure(error)
                }
            }
        }
        return results
    }

    /// One `syncfs` of the endpoint's file system: every file's data and every directory's
    /// entries there, committed together.
    func syncFileSystem() throws(ReceiveError) {
        try Beneath.syncFileSystem(fd, what: "the endpoint")
    }

    /// Deletes this transfer's partial directory with everything in it.
    func remove() throws(ReceiveError) {
        try endpoint.removePartialArea(name)
    }

    /// Closes the groups a batch was published from, and removes those it left empty; a group
    /// that still holds a file, or is being filled, stays (ENOTEMPTY). Nothing here needs to be
    /// durable: an empty group left by a crash goes with the transfer's directory.
    private func removeEmptyGroups(_ groups: [UInt32: Int32]) {
        for (number, group) in groups {
            close(group)
            _ = unlinkat(fd, Self.groupName(number: number), AT_REMOVEDIR)
        }
    }

    private func rename(
        _ file: PartialFile, from group: Int32, into target: Int32, directory: ReceivePath?, name: String
    ) throws(ReceiveError) -> ReceivePath {
        let first = try ReceivePath.child(name, of: directory)
        let source = Self.fileName(index: file.slot)
        for attempt in 0...CollisionName.maximumSuffix {
            let candidate = attempt == 0 ? name : CollisionName.candidate(name, attempt: attempt)
            let path = try ReceivePath.child(candidate, of: directory)
            if Linux.renameNoReplace(group, source, target, candidate) == 0 { return path }
            guard errno == EEXIST else { throw ReceiveError.system(errno, "cannot move \(path) into place") }
        }
        throw ReceiveError(.writeFailed, "no free name for \(first)")
    }

    /// Checks that `fd` is a regular file (the partial directory is the owner's, but nothing there
    /// is trusted blindly); returns its size.
    @discardableResult
    private static func checkRegular(_ fd: Int32, index: UInt32) throws(ReceiveError) -> UInt64 {
        let status = try Beneath.status(fd, what: "partial file \(index)")
        guard status.st_mode & S_IFMT == S_IFREG else { throw ReceiveError(.writeFailed, "partial file \(index) is not a regular file") }
        return UInt64(status.st_size)
    }

    /// Feeds the first `length` bytes of `fd` into `digest`.
    private static func hashPrefix(_ fd: Int32, length: UInt64, into digest: inout FileDigest, index: UInt32) throws(ReceiveError) {
        let chunk = 1 << 20
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 64)
        defer { buffer.deallocate() }
        var position: UInt64 = 0
        while position < length {
            let want = Int(min(UInt64(chunk), length - position))
            let got = CPUAccount.measure(.read, bytes: want) { pread(fd, buffer.baseAddress, want, off_t(position)) }
            if got < 0 {
                if errno == EINTR { continue }
                throw ReceiveError.system(errno, "cannot read back partial file \(index)")
            }
            guard got > 0 else { throw ReceiveError(.writeFailed, "partial file \(index) ended at \(position) while reading it back") }
            digest.update(UnsafeRawBufferPointer(rebasing: buffer[..<got]))
            position += UInt64(got)
        }
    }
}
