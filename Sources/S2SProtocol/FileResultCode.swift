/// The receiver's verdict on one file (FILE_RESULT).
public enum FileResultCode: UInt8, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Complete, digest matched, durable on disk under its final name.
    case ok = 0
    /// The digest of the received bytes differs from the sender's; the data was discarded.
    case integrity = 1
    /// The receiver could not write or rename the file.
    case writeError = 2
    /// The endpoint's quota ran out during the file.
    case quotaExceeded = 3
    /// The receiving file system ran out of space (or reached its reserve).
    case insufficientSpace = 4
    /// Not kept: the sender aborted the file (FILE_ABORT).
    case cancelled = 5

    public var description: String {
        switch self {
        case .ok: "ok"
        case .integrity: "digest mismatch"
        case .writeError: "write error"
        case .quotaExceeded: "quota exceeded"
        case .insufficientSpace: "insufficient space"
        case .cancelled: "cancelled"
        }
    }
}
