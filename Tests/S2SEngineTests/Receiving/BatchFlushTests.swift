import Foundation
import S2SProtocol
import Synchronization
import Testing
@testable import S2SEngine

/// A flush's disk work as the publishing worker runs it: sync, record, rename, in that order, and
/// nothing published that was not recorded or not made durable.
@Suite(.serialized)
struct BatchFlushTests {
    let fixture: ReceiveFixture
    let me: UserContext

    init() throws {
        fixture = try ReceiveFixture()
        me = try UserContext.lookup(uid: getuid())
    }

    /// What `record` was called with.
    struct Recorded: Sendable, Equatable {
        var publishing: [String]
        var delivered: [String]?
    }

    /// Verified files `names` (entries 0, 1, ...) in a new partial area, with the previous
    /// flush's batch (`earlier`, one file already renamed), flushed with `record`.
    func flush(
        _ names: [String], verified: Bool = true, earlier: RenamedBatch?,
        record: @escaping @Sendable ([String], RenamedBatch?) throws -> Void
    ) async throws -> BatchFlush.Outcome {
        let endpoint = try await fixture.open()
        return try await me.receive { () throws(ReceiveError) in
            let area = try endpoint.openPartialArea(transferName)
            var files: [BatchFlush.File] = []
            for (index, name) in names.enumerated() {
                let file = try area.createFile(index: UInt32(index), algorithm: .xxh3_128)
                let bytes = pattern(index + 3)
                try file.write(bytes, at: 0)
                if verified {
                    try file.finish(expected: try xxh3(bytes), size: UInt64(bytes.count), offeredMode: 0o644, mtime: ReceiveTime(seconds: 0))
                }
                files.append(.init(entry: UInt32(index), path: "top/" + name, request: .init(file: file, directory: nil, name: name)))
            }
            return BatchFlush(files: files, earlier: earlier, syncingNames: false).run(in: area, record: record)
        }
    }

    static let earlier = RenamedBatch(
        results: [(index: 9, code: .ok)], deliveries: [.init(index: 9, size: 1, path: "top/old", publishedAs: "old")], since: .now)

    @Test func theBatchIsRecordedThenPublishedAndTheEarlierOneDelivered() async throws {
        defer { fixture.remove() }
        let calls = Mutex<[Recorded]>([])
        let outcome = try await flush(["a", "b"], earlier: Self.earlier) { publishing, delivered in
            calls.withLock { $0.append(Recorded(publishing: publishing, delivered: delivered?.delivered.map(\.publishedAs))) }
        }
        #expect(calls.withLock { $0 } == [Recorded(publishing: ["top/a", "top/b"], delivered: ["old"])])
        #expect(outcome.earlierDurable && outcome.recordFailure == nil)
        #expect(try outcome.published[0]?.get().path.description == "a")
        #expect(try outcome.published[1]?.get().path.description == "b")
        #expect(fixture.contents("endpoint/b") == pattern(4))
    }

    /// A file is renamed into place only once it is recorded as being published: without that
    /// record a retry could not tell it was delivered.
    @Test func nothingIsPublishedWithoutItsRecord() async throws {
        defer { fixture.remove() }
        struct DiskFull: Error {}
        let outcome = try await flush(["a"], earlier: nil) { _, _ in throw DiskFull() }
        #expect(outcome.recordFailure != nil)
        #expect(throws: ReceiveError.self) { try outcome.published[0]?.get() }
        #expect(fixture.list("endpoint") == [".s2s-partial"])
        #expect(fixture.list("endpoint/.s2s-partial/\(transferName)").count == 1)
    }

    /// A sync that fails fails the batch's files and leaves the earlier batch undelivered: its
    /// names were never made durable.
    @Test func aFailedSyncDeliversNothing() async throws {
        defer { fixture.remove() }
        let calls = Mutex<[Recorded]>([])
        let outcome = try await flush(["a"], verified: false, earlier: Self.earlier) { publishing, delivered in
            calls.withLock { $0.append(Recorded(publishing: publishing, delivered: delivered?.delivered.map(\.publishedAs))) }
        }
        #expect(!outcome.earlierDurable)
        #expect(throws: ReceiveError.self) { try outcome.published[0]?.get() }
        #expect(calls.withLock { $0 } == [Recorded(publishing: [], delivered: nil)])
        #expect(fixture.list("endpoint") == [".s2s-partial"])
    }
}
