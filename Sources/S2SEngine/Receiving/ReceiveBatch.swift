import S2SProtocol

/// The FILE_RESULTs a receiving session owes, in order, and when to settle them: verified files
/// are made durable and published together (one sync for many files) once enough of them wait,
/// or once the oldest has waited long enough (docs/protocol.md: the receiver MAY delay results).
///
/// The session flushes it (`ReceiveSession.flush`); its only I/O is closing the descriptors of
/// the verified files that one `syncfs` will make durable.
struct ReceiveBatch {
    /// Verified files are made durable and published together once this many are waiting...
    static let batchFiles = 1024
    /// ... or once they hold this many bytes...
    static let batchBytes: UInt64 = 64 << 20
    /// ... or once the oldest has waited this long.
    static let batchDelay: Duration = .seconds(1)

    /// One owed FILE_RESULT.
    struct Owed {
        let index: UInt32
        /// Verified, waiting to be made durable and published; nil when `code` is already known.
        let file: PartialFile?
        var code: FileResultCode
    }

    /// The results owed, in order.
    var pending: [Owed] = []
    /// Bytes of the verified files waiting.
    private(set) var bytes: UInt64 = 0
    private var oldest: ContinuousClock.Instant?

    var isEmpty: Bool { pending.isEmpty }

    /// Verified files waiting.
    private var verified = 0

    /// Owes a verified file of `size` bytes, to be published with the batch. From
    /// `PartialArea.fileSystemThreshold` verified files on, the batch is made durable with one
    /// `syncfs`, which needs no descriptor: theirs are closed, so that a batch holds at most that
    /// many open whatever its size.
    mutating func add(verified file: PartialFile, index: UInt32, size: UInt64) {
        bytes += size
        verified += 1
        append(Owed(index: index, file: file, code: .ok))
        if verified == PartialArea.fileSystemThreshold {
            for owed in pending { owed.file?.closeDescriptor() }
        } else if verified > PartialArea.fileSystemThreshold {
            file.closeDescriptor()
        }
    }

    /// Owes a result already known (the file failed or was given up).
    mutating func add(index: UInt32, code: FileResultCode) {
        append(Owed(index: index, file: nil, code: code))
    }

    private mutating func append(_ result: Owed) {
        if oldest == nil { oldest = .now }
        pending.append(result)
    }

    /// Whether the batch is due at `now`.
    func isDue(now: ContinuousClock.Instant) -> Bool {
        guard let oldest else { return false }
        return pending.count >= Self.batchFiles || bytes >= Self.batchBytes || now - oldest >= Self.batchDelay
    }

    /// Hands the owed results over and starts an empty batch.
    mutating func take() -> [Owed] {
        defer { self = ReceiveBatch() }
        return pending
    }
}

/// A flushed batch whose files are renamed to their final names but whose names are not durable
/// yet, with every result it owes: the next flush's `syncfs` makes these names durable together
/// with the next batch's data (one journal commit per batch instead of two), and then they are
/// recorded delivered and the results go out, in order.
struct RenamedBatch {
    /// One published file.
    struct Delivery {
        let index: UInt32
        let size: UInt64
        /// The path offered, and the path it was published under.
        let path: String
        let publishedAs: String
    }

    /// The results owed, in order (those of the delivered files among them are `ok`).
    var results: [(index: UInt32, code: FileResultCode)]
    var deliveries: [Delivery]
    let since: ContinuousClock.Instant

    /// What the resume records take: offered path and published path of each delivered file.
    var delivered: [(path: String, publishedAs: String)] { deliveries.map { ($0.path, $0.publishedAs) } }
    var bytes: UInt64 { deliveries.reduce(0) { $0 + $1.size } }

    /// Whether its results have waited long enough to be flushed without a new batch.
    func isDue(now: ContinuousClock.Instant) -> Bool {
        now - since >= ReceiveBatch.batchDelay
    }
}
