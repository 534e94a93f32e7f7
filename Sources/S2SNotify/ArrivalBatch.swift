public import S2SClient

/// Finished transfers into one endpoint (or to one destination) close together in time, told as
/// one message ("12 files (3.4 MiB) arrived in Downloads") that grows in place, instead of one
/// notification each.
public struct ArrivalBatch: Sendable, Equatable {
    public private(set) var transfers = 0
    public private(set) var files: UInt64 = 0
    public private(set) var bytes: UInt64 = 0
    /// What the only transfer carried; nil once there are several.
    public private(set) var subject: TransferSnapshot.Subject?
    /// Names of the top-level entries that arrived, where known (for "Open folder").
    public private(set) var names: [String] = []
    public private(set) var lastAdded: ContinuousClock.Instant
    /// The user closed the message: the next transfer starts a new one.
    public var dismissed = false

    public init(startedAt: ContinuousClock.Instant) {
        lastAdded = startedAt
    }

    /// Whether a transfer finishing at `now` belongs to this batch.
    public func accepts(at now: ContinuousClock.Instant, window: Duration) -> Bool {
        !dismissed && now - lastAdded <= window
    }

    public mutating func add(_ transfer: TransferSnapshot, at now: ContinuousClock.Instant) {
        transfers += 1
        files += transfer.filesDone
        bytes += transfer.bytesDone
        subject = transfers == 1 ? transfer.subject : nil
        for name in transfer.names where !names.contains(name) && names.count < 64 { names.append(name) }
        lastAdded = now
    }
}
