import CLinux
#if canImport(Glibc)
import Glibc
#endif

/// The Linux system calls s2s needs that glibc does not wrap, wraps process-wide, or hides behind
/// `_GNU_SOURCE`; the one Swift owner of the `CLinux` shim. Each returns what the system call
/// returns (-1 with `errno` set on failure), so callers check and explain failures themselves.
public enum Linux {
    // MARK: Files

    /// `O_PATH` for `open(2)`: a descriptor that names a file without opening it for I/O.
    public static let O_PATH = S2S_O_PATH
    /// `UTIME_NOW` for `futimens(2)`.
    public static let UTIME_NOW = Int(S2S_UTIME_NOW)

    /// `openat2(2)`'s `resolve` flags.
    public struct Resolve: OptionSet, Sendable {
        public let rawValue: UInt64
        public init(rawValue: UInt64) { self.rawValue = rawValue }
        /// No path component may leave the directory (no `..` above it, no absolute path).
        public static let beneath = Resolve(rawValue: S2S_RESOLVE_BENEATH)
        /// No symbolic link is followed, anywhere in the path.
        public static let noSymlinks = Resolve(rawValue: S2S_RESOLVE_NO_SYMLINKS)
        /// No `/proc` magic link is followed.
        public static let noMagicLinks = Resolve(rawValue: S2S_RESOLVE_NO_MAGICLINKS)
    }

    /// `openat2(2)`: opens `path` relative to `directory` under the `resolve` rules. `O_CLOEXEC`
    /// is always added. Returns the descriptor, or -1 with `errno` set.
    public static func openat2(_ directory: Int32, _ path: String, flags: Int32, mode: UInt32 = 0, resolve: Resolve) -> Int32 {
        s2s_openat2(directory, path, UInt64(UInt32(bitPattern: flags | O_CLOEXEC)), UInt64(mode), resolve.rawValue)
    }

    /// `renameat2(2)` with `RENAME_NOREPLACE`: fails with `EEXIST` rather than replace a name.
    public static func renameNoReplace(_ fromDirectory: Int32, _ from: String, _ toDirectory: Int32, _ to: String) -> Int32 {
        s2s_rename_noreplace(fromDirectory, from, toDirectory, to)
    }

    /// `syncfs(2)`: commits the whole file system that holds `fd`.
    public static func syncfs(_ fd: Int32) -> Int32 {
        s2s_syncfs(fd)
    }

    // MARK: Credentials of the calling thread

    /// The calling thread's supplementary groups (glibc's `setgroups` changes every thread's).
    public static func setThreadGroups(_ groups: [UInt32]) -> Int32 {
        groups.withUnsafeBufferPointer { s2s_thread_setgroups($0.count, $0.baseAddress) }
    }

    /// The calling thread's file-system UID: the user the kernel checks file access against.
    public static func setThreadFilesystemUser(_ uid: UInt32) -> Int32 {
        s2s_thread_setfsuid(uid)
    }

    /// The calling thread's file-system GID.
    public static func setThreadFilesystemGroup(_ gid: UInt32) -> Int32 {
        s2s_thread_setfsgid(gid)
    }

    // MARK: The heap

    /// `mallopt(3)` options.
    public enum MallocOption: Sendable, CaseIterable {
        case trimThreshold, mmapThreshold, arenaMax

        var code: Int32 {
            switch self {
            case .trimThreshold: M_TRIM_THRESHOLD
            case .mmapThreshold: M_MMAP_THRESHOLD
            case .arenaMax: M_ARENA_MAX
            }
        }
    }

    /// `mallopt(3)`: true when glibc took the setting.
    public static func mallopt(_ option: MallocOption, _ value: Int32) -> Bool {
        CLinux.mallopt(option.code, value) == 1
    }
}
