#if canImport(Glibc)
import Glibc
#endif
import S2SLinux
import Logging

/// Process-wide settings the daemon makes once at start, for a process that streams 64 KiB records
/// between threads and holds a few files open per transfer.
enum ProcessTuning {
    /// Free heap kept instead of being given back to the kernel at once.
    static let trimThreshold: Int32 = 32 << 20
    /// Blocks up to this size come from the heap, never from a fresh mapping.
    static let mmapThreshold: Int32 = 4 << 20

    /// Applies every setting; a refusal is logged and otherwise harmless.
    static func apply(logger: Logger) {
        tuneMalloc(logger: logger)
        raiseOpenFileLimit(logger: logger)
    }

    /// Every record buffer is allocated on one thread and freed on another, a couple of megabytes
    /// in flight at a time. With glibc's defaults the heap top is returned to the kernel whenever
    /// more than 128 KiB is free there, and the next records fault those pages in again, zeroed:
    /// a sixth of the sender's CPU time at full speed. Keeping up to 32 MiB of free heap (and
    /// fixing the mmap threshold, which glibc otherwise moves on its own) costs a few megabytes of
    /// resident memory at most, because the write windows bound the daemon's working set.
    private static func tuneMalloc(logger: Logger) {
        let settings = [
            (Linux.MallocOption.trimThreshold, trimThreshold, "M_TRIM_THRESHOLD"), (.mmapThreshold, mmapThreshold, "M_MMAP_THRESHOLD"),
        ]
        for (option, value, name) in settings where !Linux.mallopt(option, value) {
            logger.warning("malloc refused a setting; transfers will use more CPU", metadata: ["option": "\(name)", "value": "\(value)"])
        }
    }

    /// An incoming transfer keeps a few partial files open ahead of the data (ReceiveSession), so
    /// 64 of them need more than the soft limit of 1024 that systemd gives services. The daemon
    /// uses no select(2), so the soft limit goes up to the hard one, as systemd advises.
    private static func raiseOpenFileLimit(logger: Logger) {
        let openFiles = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
        var limit = rlimit()
        guard getrlimit(openFiles, &limit) == 0 else {
            logger.warning("cannot read the open file limit", metadata: ["error": "\(String(cString: strerror(errno)))"])
            return
        }
        guard limit.rlim_cur < limit.rlim_max else { return }
        let soft = limit.rlim_cur
        limit.rlim_cur = limit.rlim_max
        if setrlimit(openFiles, &limit) != 0 {
            logger.warning(
                "cannot raise the open file limit", metadata: ["soft": "\(soft)", "error": "\(String(cString: strerror(errno)))"])
        }
    }
}
