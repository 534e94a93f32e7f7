import S2SProtocol

extension Record {
    /// What a received record counts against the bound of a queue that holds records for the
    /// session (``RecordReadAhead``, ``StripeMerger``): its data, and what holding any record
    /// costs besides (its decoded form, its place in the queue), so that a flood of tiny records
    /// is bounded by their number, not only by their bytes.
    var heldBytes: Int {
        if case .data(_, _, let bytes) = unsequenced { return Self.holdingCost + bytes.count }
        return Self.holdingCost
    }

    /// About what a small record takes in memory while it is held.
    static let holdingCost = 256
}
