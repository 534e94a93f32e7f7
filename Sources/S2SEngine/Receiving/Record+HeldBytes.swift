import S2SProtocol

extension Record {
    /// What a received record counts against the bound of a queue that holds records for the
    /// session (``RecordReadAhead``, ``StripeMerger``): its data, or a small constant.
    var heldBytes: Int {
        if case .data(_, _, let bytes) = unsequenced { return bytes.count }
        return 64
    }
}
