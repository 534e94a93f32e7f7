/// One entry of an offer (ENTRY): a file or a directory, with the metadata the receiver applies.
/// Its index is its position in the offer, counting from 0.
public struct OfferEntry: Sendable, Hashable {
    public var kind: EntryKind
    /// Permission bits only (at most 0o777): the sender masks off setuid, setgid and sticky; the
    /// receiver rejects anything else and may clear further bits.
    public var mode: UInt16
    /// Modification time, seconds since the Unix epoch (may be negative).
    public var mtimeSeconds: Int64
    /// Nanoseconds within the second, below 1,000,000,000.
    public var mtimeNanoseconds: UInt32
    /// Size in bytes, at most 2^63-1; 0 for directories.
    public var size: UInt64
    public var path: RelativePath

    public init(
        kind: EntryKind, mode: UInt16, mtimeSeconds: Int64, mtimeNanoseconds: UInt32, size: UInt64,
        path: RelativePath
    ) {
        self.kind = kind
        self.mode = mode
        self.mtimeSeconds = mtimeSeconds
        self.mtimeNanoseconds = mtimeNanoseconds
        self.size = size
        self.path = path
    }

    /// A file entry.
    public static func file(
        _ path: RelativePath, size: UInt64, mode: UInt16 = 0o644, mtimeSeconds: Int64 = 0, mtimeNanoseconds: UInt32 = 0
    ) -> OfferEntry {
        OfferEntry(
            kind: .file, mode: mode, mtimeSeconds: mtimeSeconds, mtimeNanoseconds: mtimeNanoseconds, size: size,
            path: path)
    }

    /// A directory entry.
    public static func directory(
        _ path: RelativePath, mode: UInt16 = 0o755, mtimeSeconds: Int64 = 0, mtimeNanoseconds: UInt32 = 0
    ) -> OfferEntry {
        OfferEntry(
            kind: .directory, mode: mode, mtimeSeconds: mtimeSeconds, mtimeNanoseconds: mtimeNanoseconds, size: 0,
            path: path)
    }
}
