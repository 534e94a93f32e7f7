#if canImport(Glibc)
import Glibc
#endif

/// The entries of an open directory, read without following anything: names as raw bytes
/// (NUL-terminated, ready for the `*at` calls; a name need not be UTF-8) and the type `readdir`
/// reports, `.` and `..` left out.
struct DirectoryEntries {
    struct Entry {
        /// The name's bytes followed by a NUL.
        let name: [CChar]
        /// `DT_DIR`, `DT_REG`, `DT_LNK`, ... or `DT_UNKNOWN` on file systems that do not say.
        let type: UInt8

        /// The name for messages and for names s2s itself chose (which are ASCII).
        var displayName: String {
            String(decoding: name.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }

    /// Reads every entry of `directory` (which stays open and owned by the caller).
    static func read(_ directory: Int32, what: String) throws(ReceiveError) -> [Entry] {
        let copy = fcntl(directory, F_DUPFD_CLOEXEC, 3)
        guard copy >= 0 else { throw ReceiveError.system(errno, "cannot list \(what)") }
        guard let stream = fdopendir(copy) else {
            let code = errno
            close(copy)
            throw ReceiveError.system(code, "cannot list \(what)")
        }
        defer { closedir(stream) }
        rewinddir(stream)
        var entries: [Entry] = []
        while true {
            errno = 0
            guard let entry = readdir(stream) else {
                guard errno == 0 else { throw ReceiveError.system(errno, "cannot list \(what)") }
                return entries
            }
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw -> [CChar] in
                let bytes = raw.prefix { $0 != 0 }
                return bytes.map { CChar(bitPattern: $0) } + [0]
            }
            if name == [0x2E, 0] || name == [0x2E, 0x2E, 0] { continue }
            entries.append(Entry(name: name, type: entry.pointee.d_type))
        }
    }
}
