#if canImport(Glibc)
import Glibc
#endif

/// A user's entry in the password database (getpwuid_r), for the few fields s2s needs.
public struct PasswordEntry: Sendable, Equatable {
    public let uid: UInt32
    public let gid: UInt32
    public let name: String
    public let home: String

    /// The entry for `uid`, or nil when there is none (or the lookup fails).
    public static func lookup(uid: UInt32) -> PasswordEntry? {
        find { getpwuid_r(uid, &$0, &$1, $1.count, &$2) }
    }

    /// The entry for the user `name`, or nil when there is none (or the lookup fails).
    public static func lookup(name: String) -> PasswordEntry? {
        find { getpwnam_r(name, &$0, &$1, $1.count, &$2) }
    }

    /// Runs one of the reentrant lookups (getpwuid_r, getpwnam_r) with its buffers.
    private static func find(
        _ call: (inout passwd, inout [CChar], inout UnsafeMutablePointer<passwd>?) -> Int32
    ) -> PasswordEntry? {
        var entry = passwd()
        var result: UnsafeMutablePointer<passwd>? = nil
        var buffer = [CChar](repeating: 0, count: 16_384)
        guard call(&entry, &buffer, &result) == 0, result != nil, let name = entry.pw_name else { return nil }
        return PasswordEntry(uid: entry.pw_uid, gid: entry.pw_gid, name: text(name), home: text(entry.pw_dir))
    }
}

private func text(_ pointer: UnsafePointer<CChar>) -> String {
    String(decoding: UnsafeRawBufferPointer(start: pointer, count: strlen(pointer)), as: UTF8.self)
}

/// `path` made absolute against the working directory (a daemon has its own, so clients resolve
/// relative paths before sending them). Returned unchanged if the working directory is unknown.
public func absolutePath(_ path: String) -> String {
    if path.hasPrefix("/") { return path }
    var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
    guard getcwd(&buffer, buffer.count) != nil else { return path }
    let directory = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    if path == "." { return directory }
    return (directory == "/" ? "" : directory) + "/" + path
}
