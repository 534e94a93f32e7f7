#if canImport(Glibc)
import Glibc
#endif
import CLinux
import Logging

/// glibc malloc settings for a process that streams 64 KiB records between threads.
///
/// Every record buffer is allocated on one thread and freed on another, a couple of megabytes in
/// flight at a time. With glibc's defaults the heap top is given back to the kernel whenever more
/// than 128 KiB is free there, and the next records fault those pages in again, zeroed: a sixth of
/// the sender's CPU time at full speed. Keeping up to 32 MiB of free heap (and serving blocks up
/// to 4 MiB from the heap, so the threshold does not move on its own) costs a few megabytes of
/// resident memory at most, because the daemon's working set is bounded by its write windows.
enum MemoryTuning {
    static let trimThreshold: Int32 = 32 << 20
    static let mmapThreshold: Int32 = 4 << 20

    /// Applies the settings; a refusal is logged and otherwise harmless.
    static func apply(logger: Logger) {
        let settings = [
            (M_TRIM_THRESHOLD, trimThreshold, "M_TRIM_THRESHOLD"), (M_MMAP_THRESHOLD, mmapThreshold, "M_MMAP_THRESHOLD"),
        ]
        for (option, value, name) in settings where mallopt(option, value) != 1 {
            logger.warning("malloc refused a setting; transfers will use more CPU", metadata: ["option": "\(name)", "value": "\(value)"])
        }
    }
}
