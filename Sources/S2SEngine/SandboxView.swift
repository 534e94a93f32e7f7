#if canImport(Glibc)
import Glibc
#endif

/// What of the file system the daemon sees differently from its users, read from its own
/// `/proc/self/mountinfo`.
///
/// Under `s2sd.service`, `PrivateTmp=yes` gives the daemon a `/tmp` and a `/var/tmp` of its own
/// (bind mounts of `/tmp/systemd-private-*`): an endpoint there would be a directory that no user
/// can see, so the daemon refuses such paths by name instead of failing with "does not exist" or,
/// worse, receiving into its private copy. `ProtectSystem=strict` makes everything read-only but
/// `ReadWritePaths=`: a directory elsewhere is refused with a message that says so.
/// docs/systemd.md explains both.
package struct SandboxView: Sendable, Equatable {
    /// Mount points that are private to this daemon (PrivateTmp=), such as `/tmp` and `/var/tmp`.
    package let privateDirectories: [String]

    static let none = SandboxView(privateDirectories: [])

    /// The daemon's own view, or `none` when it cannot be read (then nothing is refused for it).
    package static func current() -> SandboxView {
        guard let text = MountTable.readOwn() else { return .none }
        return SandboxView(privateDirectories: MountTable(parsing: text).privateTemporaryDirectories)
    }

    /// The private directory that `path` (absolute) lies in, if any.
    func privateDirectory(containing path: String) -> String? {
        privateDirectories.first { MountTable.path(path, isWithin: $0) }
    }
}

/// `/proc/self/mountinfo`, as far as the daemon needs it (proc(5)).
struct MountTable: Sendable, Equatable {
    struct Mount: Sendable, Equatable {
        /// Where it is mounted, unescaped.
        let mountPoint: String
        /// The directory of its file system that appears there ("/" for a whole file system).
        let root: String
        /// Per-mount options ("ro" for a read-only bind mount).
        let readOnly: Bool
        /// Super-block options: the file system itself is read-only.
        let fileSystemReadOnly: Bool
    }

    let mounts: [Mount]

    init(parsing text: String) {
        var mounts: [Mount] = []
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            // ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE SUPEROPTIONS
            guard fields.count >= 10, let separator = fields.firstIndex(of: "-"), separator >= 6,
                separator + 3 < fields.count
            else { continue }
            let options = fields[5].split(separator: ",")
            let superOptions = fields[separator + 3].split(separator: ",")
            mounts.append(
                Mount(
                    mountPoint: Self.unescape(fields[4]), root: Self.unescape(fields[3]),
                    readOnly: options.contains("ro"), fileSystemReadOnly: superOptions.contains("ro")))
        }
        self.mounts = mounts
    }

    /// systemd's PrivateTmp= mounts `/tmp/systemd-private-BOOT-UNIT-RANDOM/tmp` on `/tmp` (and the
    /// same under `/var/tmp`).
    var privateTemporaryDirectories: [String] {
        var found: [String] = []
        for mount in mounts where mount.root.contains("/systemd-private-") && !found.contains(mount.mountPoint) {
            found.append(mount.mountPoint)
        }
        return found
    }

    /// The mount that `path` (absolute, canonical) is on: the last one mounted on the longest
    /// mount point that contains it.
    func mount(containing path: String) -> Mount? {
        var best: Mount?
        for mount in mounts where Self.path(path, isWithin: mount.mountPoint) {
            if best == nil || mount.mountPoint.utf8.count >= (best?.mountPoint.utf8.count ?? 0) { best = mount }
        }
        return best
    }

    static func path(_ path: String, isWithin directory: String) -> Bool {
        if directory == "/" { return path.hasPrefix("/") }
        return path == directory || path.hasPrefix(directory + "/")
    }

    /// mountinfo writes space, tab, newline and backslash as three octal digits after a backslash.
    static func unescape(_ field: Substring) -> String {
        var bytes: [UInt8] = []
        var utf8 = Array(field.utf8)[...]
        while let byte = utf8.first {
            utf8 = utf8.dropFirst()
            if byte == UInt8(ascii: "\\"), utf8.count >= 3,
                let value = UInt8(String(decoding: utf8.prefix(3), as: UTF8.self), radix: 8)
            {
                bytes.append(value)
                utf8 = utf8.dropFirst(3)
            } else {
                bytes.append(byte)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The text of `/proc/self/mountinfo`, or nil if it cannot be read.
    static func readOwn() -> String? {
        let fd = open("/proc/self/mountinfo", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 16_384)
        while bytes.count < 16 << 20 {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else { return nil }
            if count == 0 { break }
            bytes += chunk.prefix(count)
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
