import NIOCore

/// Records gathered so that many go to the event loop in one hop and one flush
/// (`SecureChannel.write(plaintexts:into:)`): the offer's entries, and the DATA and FILE_END of
/// small files sent whole. Written one each, a tree of small files cost two hops to the event
/// loop, and as many wake-ups of its thread, per file.
///
/// Files are gathered only with one connection and no rate limit, where records need not wait
/// their turn; the session writes them before anything else and before it waits for the user's
/// thread, so a record never waits behind a slow disk.
struct GatheredRecords {
    /// Files up to this size are gathered (and no larger than one DATA record).
    static let fileBytes = 64 << 10
    /// The records are written once they hold this many bytes.
    static let writeBytes = 256 << 10

    private(set) var plaintexts: [ByteBuffer] = []
    /// The plaintexts' bytes, and the file data among them.
    private(set) var bytes = 0
    private(set) var dataBytes = 0
    /// The buffer the records are sealed into, reused from write to write.
    var frames = ByteBuffer()

    var isEmpty: Bool { plaintexts.isEmpty }

    mutating func append(_ plaintext: ByteBuffer, dataBytes: Int) {
        bytes += plaintext.readableBytes
        self.dataBytes += dataBytes
        plaintexts.append(plaintext)
    }

    /// Empties it once written (the frames' buffer is kept).
    mutating func removeAll() {
        plaintexts.removeAll(keepingCapacity: true)
        bytes = 0
        dataBytes = 0
    }
}
