import S2SProtocol
import Testing
@testable import S2SEngine

/// The receiver's decision on an offer, without sockets or disks (docs/protocol.md, "Resume").
struct OfferPlanTests {
    private func file(_ path: String, size: UInt64, mtime: Int64 = 1) throws -> OfferEntry {
        .file(try RelativePath(path), size: size, mtimeSeconds: mtime)
    }

    private func directory(_ path: String) throws -> OfferEntry {
        .directory(try RelativePath(path))
    }

    /// A held record of `entry` in `slot`.
    private func held(
        _ entry: OfferEntry, slot: UInt32, durable: UInt64 = 0, delivered: String? = nil, publishing: Bool = false
    ) -> ResumeStore.Entry {
        ResumeStore.Entry(
            path: entry.path.string, kind: entry.kind, size: entry.size, mtimeSeconds: entry.mtimeSeconds,
            mtimeNanoseconds: entry.mtimeNanoseconds, slot: slot, durable: durable, deliveredPath: delivered, publishing: publishing)
    }

    private func known(_ records: [ResumeStore.Entry], digest: UInt8 = 1) -> ResumeStore.Transfer {
        ResumeStore.Transfer(digest: digest, done: false, entries: Dictionary(uniqueKeysWithValues: records.map { (PathKey($0.path), $0) }))
    }

    /// Partial lengths by slot, as the partial area would report them.
    private func lengths(_ bySlot: [UInt32: UInt64]) -> (UInt32) throws(ReceiveError) -> UInt64? {
        { slot in bySlot[slot] }
    }

    @Test func aNewOfferStartsEveryFileAtZero() throws {
        let entries = [try directory("d"), try file("d/a", size: 10), try file("b", size: 5)]
        var plan = OfferPlan(entries: entries, known: nil)
        #expect(plan.records.map(\.slot) == [0, 1, 2])
        #expect(plan.fileCount == 2)
        #expect(plan.neededBytes == 15)
        #expect(plan.recordedOffsets.isEmpty)
        #expect(plan.completeFiles == 0 && plan.completeBytes == 0)
        let usable = try plan.usableOffsets(partialLength: lengths([:]))
        let published = try plan.publishedBeforeStop(partialLength: lengths([:]))
        plan.settle(usable: usable, published: published)
        #expect(plan.resumePoints.isEmpty)
        #expect(plan.resumedBytes == 0)
        #expect(plan.recovered.isEmpty)
        #expect(plan.records.map(\.durable) == [0, 0, 0])
        #expect(plan.records.allSatisfy { $0.deliveredPath == nil })
    }

    @Test func heldRecordsGiveResumePointsInIndexOrder() throws {
        let a = try file("a", size: 100), b = try file("b", size: 7), c = try file("c", size: 50), d = try file("d", size: 3)
        let changedC = try file("c", size: 50, mtime: 2)
        let record = known([
            held(a, slot: 7, durable: 40), held(b, slot: 3, delivered: "b (1)"), held(changedC, slot: 5, durable: 9),
        ])
        var plan = OfferPlan(entries: [a, b, c, d], known: record)
        // The same files keep their records; a changed file keeps only its slot; a new one gets the next.
        #expect(plan.records.map(\.slot) == [7, 3, 5, 8])
        #expect(plan.records[2].durable == 0)
        #expect(plan.recordedOffsets == [0: 40])
        #expect(plan.neededBytes == 100 + 50 + 3)
        #expect(plan.completeFiles == 1 && plan.completeBytes == 7)

        let usable = try plan.usableOffsets(partialLength: lengths([7: 40]))
        #expect(usable == [0: 40])
        plan.settle(usable: usable, published: [])
        #expect(plan.resumePoints == [ResumePoint(entry: 0, position: .offset(40)), ResumePoint(entry: 1, position: .complete)])
        #expect(plan.resumedBytes == 40)
        #expect(plan.resumeOffsets == [0: 40])
        #expect(plan.records.map(\.durable) == [40, 0, 0, 0])
    }

    @Test func aResumePointCountsOnlyIfThePartialFileHoldsItsBytes() throws {
        let a = try file("a", size: 100)
        let plan = OfferPlan(entries: [a], known: known([held(a, slot: 0, durable: 40)]))
        #expect(try plan.usableOffsets(partialLength: lengths([0: 39])).isEmpty)
        #expect(try plan.usableOffsets(partialLength: lengths([:])).isEmpty)
        #expect(try plan.usableOffsets(partialLength: lengths([0: 60])) == [0: 40])
        var settled = plan
        settled.settle(usable: [:], published: [])
        #expect(settled.resumePoints.isEmpty)
        #expect(settled.records[0].durable == 0)
    }

    @Test func recordsOfAnotherDigestAreNotHeld() throws {
        let record = known([held(try file("a", size: 1), slot: 0, durable: 1)], digest: 1)
        #expect(OfferPlan.held(record, digest: 2) == nil)
        #expect(OfferPlan.held(record, digest: 1)?.entries.count == 1)
        #expect(OfferPlan.held(nil, digest: 1) == nil)
    }

    @Test func quotaCountsDeliveredReservedAndNeededBytes() throws {
        let plan = OfferPlan(entries: [try file("a", size: 10)], known: nil)
        try plan.checkQuota(received: 85, reserved: 5, quota: 100)
        try plan.checkQuota(received: 1 << 40, reserved: 0, quota: nil)
        let refusal = #expect(throws: OfferRefusal.self) { try plan.checkQuota(received: 86, reserved: 5, quota: 100) }
        #expect(refusal?.code == .quotaExceeded)
        #expect(refusal?.reason.contains("quota of 100 bytes") == true)
        #expect(throws: OfferRefusal.self) { try plan.checkQuota(received: 85, reserved: 6, quota: 100) }
    }

    @Test func deliveredFilesDoNotCountAgainstQuotaOrSpace() throws {
        let a = try file("a", size: 1000), b = try file("b", size: 10)
        let plan = OfferPlan(entries: [a, b], known: known([held(a, slot: 0, delivered: "a")]))
        #expect(plan.neededBytes == 10)
        try plan.checkQuota(received: 90, reserved: 0, quota: 100)
        try plan.checkSpace(available: 10, reserve: 0, usable: [:])
    }

    @Test func freeSpaceMustLeaveTheReserve() throws {
        let a = try file("a", size: 100)
        let plan = OfferPlan(entries: [a], known: known([held(a, slot: 0, durable: 30)]))
        try plan.checkSpace(available: 120, reserve: 20, usable: [:])
        let full = #expect(throws: ReceiveError.self) { try plan.checkSpace(available: 119, reserve: 20, usable: [:]) }
        #expect(full?.kind == .insufficientSpace)
        #expect(full?.refuseCode == RefuseCode.insufficientSpace.rawValue)
        // A usable resume point needs no space again.
        try plan.checkSpace(available: 90, reserve: 20, usable: [0: 30])
        #expect(throws: ReceiveError.self) { try plan.checkSpace(available: 89, reserve: 20, usable: [0: 30]) }
        #expect(throws: ReceiveError.self) { try plan.checkSpace(available: 10, reserve: 11, usable: [0: 30]) }
    }

    @Test func aFilePublishedBeforeAStopCountsAsDelivered() throws {
        let a = try file("a", size: 4), b = try file("b", size: 6)
        var plan = OfferPlan(entries: [a, b], known: known([held(a, slot: 0, publishing: true), held(b, slot: 1, publishing: true)]))
        // a's partial file is gone (renamed into place), b's is still there.
        let published = try plan.publishedBeforeStop(partialLength: lengths([1: 6]))
        #expect(published == [0])
        plan.settle(usable: [:], published: published)
        #expect(plan.records[0].deliveredPath == "a")
        #expect(plan.records[0].publishing == false)
        #expect(plan.records[1].deliveredPath == nil)
        #expect(plan.recovered.map(\.path) == ["a"])
        #expect(plan.recoveredBytes == 4)
        #expect(plan.completeFiles == 1 && plan.completeBytes == 4)
        #expect(plan.resumePoints == [ResumePoint(entry: 0, position: .complete)])
    }

    /// Paths are unique in a valid offer (the validator checks it); the plan keys held records
    /// by path, so an entry whose path was held as something else keeps that slot only.
    @Test func pathsCollideOnlyThroughTheirHeldRecords() throws {
        let asFile = try file("x", size: 5)
        let asDirectory = try directory("x")
        let plan = OfferPlan(entries: [asDirectory, try file("x/y", size: 1)], known: known([held(asFile, slot: 4, durable: 5)]))
        #expect(plan.records[0].kind == .directory)
        #expect(plan.records[0].slot == 4)
        #expect(plan.records[0].durable == 0)
        #expect(plan.records[1].slot == 5)
        #expect(plan.recordedOffsets.isEmpty)
        // The same path twice (what the validator refuses) shares the held record's slot, or
        // takes two new slots.
        let twice = [try file("a", size: 2), try file("a", size: 2)]
        #expect(OfferPlan(entries: twice, known: nil).records.map(\.slot) == [0, 1])
        #expect(OfferPlan(entries: twice, known: known([held(twice[0], slot: 9)])).records.map(\.slot) == [9, 9])
    }

    @Test func upcomingFilesSkipDirectoriesDeliveredResumedAndCreated() throws {
        let entries = [
            try file("a", size: 1), try directory("d"), try file("b", size: 1), try file("c", size: 9), try file("e", size: 1),
            try file("f", size: 1), try file("g", size: 1),
        ]
        let record = known([held(entries[2], slot: 2, delivered: "b"), held(entries[3], slot: 3, durable: 4)])
        var plan = OfferPlan(entries: entries, known: record)
        plan.settle(usable: [3: 4], published: [])
        let upcoming = plan.upcomingFiles(after: 0, limit: 2, created: { $0 == 4 })
        #expect(upcoming.map(\.0) == [5, 6])
        #expect(upcoming.map(\.1) == [plan.slot(5), plan.slot(6)])
        #expect(plan.upcomingFiles(after: 6, limit: 16, created: { _ in false }).isEmpty)
    }

    @Test func aHugeOfferIsPlannedWhole() throws {
        let count = 65_536
        var entries: [OfferEntry] = []
        entries.reserveCapacity(count)
        for index in 0..<count { entries.append(try file("f\(index)", size: 10)) }
        // Every third file was half received, every fifth delivered.
        var records: [ResumeStore.Entry] = []
        for index in stride(from: 0, to: count, by: 3) { records.append(held(entries[index], slot: UInt32(index), durable: 5)) }
        for index in stride(from: 1, to: count, by: 5) where index % 3 != 0 {
            records.append(held(entries[index], slot: UInt32(index), delivered: "f\(index)"))
        }
        var plan = OfferPlan(entries: entries, known: known(records))
        #expect(plan.fileCount == count)
        #expect(Set(plan.records.map(\.slot)).count == count)
        let usable = try plan.usableOffsets { _ throws(ReceiveError) in 10 }
        plan.settle(usable: usable, published: [])
        let resumed = (count + 2) / 3
        let delivered = records.count - resumed
        #expect(plan.resumePoints.count == resumed + delivered)
        #expect(zip(plan.resumePoints, plan.resumePoints.dropFirst()).allSatisfy { $0.entry < $1.entry })
        #expect(plan.resumedBytes == UInt64(resumed) * 5)
        #expect(plan.completeFiles == UInt64(delivered))
        #expect(plan.neededBytes == UInt64(count - delivered) * 10)
        // They fit ACCEPT and ACCEPT_MOREs of the largest record.
        let records65519 = Record.acceptRecords(resume: plan.resumePoints, maxRecordSize: 65519)
        #expect(records65519.count > 1)
    }

    @Test func namesThatDifferOnlyInNormalizationAreTwoFiles() throws {
        // "café" in NFC (é as one code point) and NFD (e and a combining acute accent): equal
        // Swift strings, different names on Linux.
        let nfc = "caf\u{E9}.txt", nfd = "cafe\u{301}.txt"
        #expect(nfc == nfd && !nfc.utf8.elementsEqual(nfd.utf8))
        let entries = [try file(nfc, size: 10), try file(nfd, size: 20)]
        let first = OfferPlan(entries: entries, known: nil)
        #expect(first.records.map(\.path) == [nfc, nfd] && Set(first.records.map(\.slot)).count == 2)
        // A retry finds each one's own record: its own slot, its own delivery.
        let retry = OfferPlan(
            entries: entries,
            known: known([held(entries[0], slot: 0, delivered: nfc), held(entries[1], slot: 1, durable: 5)]))
        #expect(retry.records.map(\.slot) == [0, 1])
        #expect(retry.records[0].deliveredPath == nfc && retry.records[1].deliveredPath == nil)
        #expect(retry.completeFiles == 1 && retry.recordedOffsets == [1: 5])
    }
}
