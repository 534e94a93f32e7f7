import S2SProtocol

/// What the sender does after the receiver's answer (docs/protocol.md, ACCEPT): each file from
/// its resume point (0 when it has none), nothing for a file marked COMPLETE; and the progress the
/// transfer starts with. A value with no I/O (`SendPlanTests`).
struct SendPlan: Sendable {
    /// The receiver's resume points, by entry index.
    let resume: [UInt32: ResumePoint.Position]
    /// Bytes the receiver holds of files it resumes.
    let resumedBytes: UInt64
    /// Files an earlier attempt delivered (COMPLETE), and their bytes.
    let completeFiles: UInt64
    let completeBytes: UInt64
    /// The entries marked COMPLETE.
    let completeIndices: [UInt32]

    /// Plans the files of `entries` (the offer) against the receiver's `resume` points.
    init(resume: [UInt32: ResumePoint.Position], entries: [OfferEntry]) {
        self.resume = resume
        var resumedBytes: UInt64 = 0
        var completeBytes: UInt64 = 0
        var completeIndices: [UInt32] = []
        for (index, position) in resume {
            switch position {
            case .complete:
                completeIndices.append(index)
                completeBytes += entries[Int(index)].size
            case .offset(let offset):
                resumedBytes += offset
            }
        }
        self.resumedBytes = resumedBytes
        self.completeBytes = completeBytes
        self.completeIndices = completeIndices
        completeFiles = UInt64(completeIndices.count)
    }

    /// The offset file `index` is sent from; nil when the receiver has it already (COMPLETE).
    func start(_ index: UInt32) -> UInt64? {
        switch resume[index] {
        case .complete?: nil
        case .offset(let offset)?: offset
        case nil: 0
        }
    }
}
