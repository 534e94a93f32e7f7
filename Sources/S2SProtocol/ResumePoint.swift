/// Where a file of a retried transfer continues (ACCEPT, ACCEPT_MORE): the receiver alone decides,
/// from the data it has verified and made durable under the same token. Files without a resume
/// point start at offset 0.
public struct ResumePoint: Sendable, Hashable {
    /// How much of the file the receiver already holds.
    public enum Position: Sendable, Hashable {
        /// The receiver holds the first `offset` bytes (at most the file's size); the sender sends
        /// the rest, then FILE_END with the digest of the whole file.
        case offset(UInt64)
        /// An earlier session delivered this file (FILE_RESULT ok was sent): the sender sends
        /// nothing for it and counts it as confirmed.
        case complete
    }

    /// The wire value of ``Position/complete``: an offset no file can have.
    public static let completeMarker: UInt64 = .max
    /// The encoded length of one pair: entry index u32, offset u64.
    public static let encodedLength = 12

    public var entry: UInt32
    public var position: Position

    public init(entry: UInt32, position: Position) {
        self.entry = entry
        self.position = position
    }

    /// The u64 that goes on the wire.
    public var wireOffset: UInt64 {
        switch position {
        case .offset(let offset): offset
        case .complete: Self.completeMarker
        }
    }
}
