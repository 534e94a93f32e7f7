import S2SProtocol
import Testing
@testable import S2SEngine

/// What the sender sends after the receiver's answer (docs/protocol.md, ACCEPT).
struct SendPlanTests {
    /// Four files of 100, 200, 300 and 400 bytes.
    private let entries: [OfferEntry]

    init() throws {
        entries = try (0..<4).map { index throws(ProtocolError) in .file(try RelativePath("f\(index)"), size: UInt64(index + 1) * 100) }
    }

    @Test func filesStartAtTheirResumePointsAndCompleteOnesAreSkipped() {
        let plan = SendPlan(resume: [1: .offset(50), 2: .complete], entries: entries)
        #expect(plan.start(0) == 0)
        #expect(plan.start(1) == 50)
        #expect(plan.start(2) == nil)
        #expect(plan.start(3) == 0)
        #expect(plan.resumedBytes == 50)
        #expect(plan.completeFiles == 1)
        #expect(plan.completeBytes == 300)
        #expect(plan.completeIndices == [2])
    }

    @Test func noResumePointsSendEverything() {
        let plan = SendPlan(resume: [:], entries: entries)
        #expect((0..<4).map { plan.start($0) } == [0, 0, 0, 0])
        #expect(plan.resumedBytes == 0 && plan.completeFiles == 0 && plan.completeBytes == 0)
        #expect(plan.completeIndices.isEmpty)
    }

    @Test func everythingCompleteSendsNothing() {
        let plan = SendPlan(resume: [0: .complete, 1: .complete, 2: .complete, 3: .complete], entries: entries)
        #expect((0..<4).allSatisfy { plan.start($0) == nil })
        #expect(plan.completeFiles == 4)
        #expect(plan.completeBytes == 1000)
        #expect(Set(plan.completeIndices) == [0, 1, 2, 3])
    }
}
