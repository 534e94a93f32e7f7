import S2SCore
import Foundation
import Testing
@testable import S2SEngine

/// The `transfer` table: numbers that never repeat, the queue's rows across a reopening, the
/// history and its clearing.
struct TransferStoreTests {
    private func openStore(_ path: String) throws -> TransferStore {
        TransferStore(database: try EndpointStore(path: path).database)
    }

    private func temporaryDatabase() throws -> String {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("s2s-db-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder.appendingPathComponent("s2s.sqlite").path
    }

    private func send(owner: UInt32, priority: Int32 = 0) -> TransferStore.Record {
        var options = SendOptions()
        options.priority = priority
        options.retryFor = 60
        return TransferStore.Record(
            direction: .send, owner: owner, route: "direct", destination: "s2s1xyz@127.0.0.1:7730", sources: ["/a", "/b c"],
            names: ["a", "b c"], digestAlgorithm: "xxh3-128", options: options, tokenKey: Data([1, 2, 3]),
            progress: Transfer.Progress(state: .queued), created: 123)
    }

    @Test func queuedSendsSurviveReopeningWithTheirOptions() throws {
        let path = try temporaryDatabase()
        let number: Int64
        do {
            let store = try openStore(path)
            number = try store.insert(send(owner: 1000, priority: 9)).number
            var progress = Transfer.Progress(state: .sending)
            progress.attempts = 2
            progress.lastError = "connection reset"
            progress.nextAttempt = 77
            try store.update(number: number, progress)
        }
        let reopened = try openStore(path)
        let rows = try reopened.unfinished()
        #expect(rows.count == 1)
        let row = try #require(rows.first)
        #expect(row.number == number && row.owner == 1000 && row.sources == ["/a", "/b c"] && row.tokenKey == Data([1, 2, 3]))
        #expect(row.options?.priority == 9 && row.options?.retryFor == 60)
        #expect(row.progress.state == .sending && row.progress.attempts == 2 && row.progress.lastError == "connection reset")
        let transfer = Transfer(record: row)
        #expect(transfer.priority == 9 && transfer.createdTimestamp == 123 && transfer.snapshot.nextAttempt == 77)
    }

    @Test func aChangedLimitAndKeptSourcesAreStored() throws {
        let store = try openStore(try temporaryDatabase())
        var queued = send(owner: 1)
        queued.options?.rateLimit = 1_000
        let number = try store.insert(queued).number
        #expect(try store.unfinished().first?.progress.rateLimit == 1_000)
        let transfer = Transfer(record: try #require(store.unfinished().first))
        transfer.setRateLimit(3_000)
        transfer.update {
            $0.keep("/a: changed")
            $0.keep("/a: changed")
        }
        try store.update(number: number, transfer.snapshot)
        let row = try #require(store.unfinished().first)
        #expect(row.options?.rateLimit == 3_000 && row.progress.rateLimit == 3_000)
        #expect(row.progress.keptSources == ["/a: changed"])
        #expect(Transfer(record: row).snapshot.rateLimit == 3_000)
    }

    @Test func numbersNeverRepeatEvenAfterClearing() throws {
        let store = try openStore(try temporaryDatabase())
        let first = try store.insert(send(owner: 1)).number
        var done = Transfer.Progress(state: .done)
        done.finishedTimestamp = 10
        try store.update(number: first, done)
        #expect(try store.clearFinished(owner: nil) == [first])
        let second = try store.insert(send(owner: 1)).number
        #expect(second > first)
        #expect(try store.lastNumber() == second)
    }

    @Test func historyClearingIsPerOwnerAndSkipsUnfinished() throws {
        let store = try openStore(try temporaryDatabase())
        var finished = Transfer.Progress(state: .failed)
        finished.finishedTimestamp = 1_000
        let mine = try store.insert(send(owner: 1)).number
        try store.update(number: mine, finished)
        let theirs = try store.insert(send(owner: 2)).number
        try store.update(number: theirs, finished)
        let running = try store.insert(send(owner: 1)).number
        #expect(try store.finished(owner: 1).map(\.number) == [mine])
        #expect(try store.clearFinished(owner: 1) == [mine])
        #expect(try store.finished(owner: nil).map(\.number) == [theirs])
        #expect(try store.unfinished().map(\.number) == [running])
        #expect(try store.purge(finishedBefore: 999) == 0)
        #expect(try store.purge(finishedBefore: 1_001) == 1)
        #expect(try store.finished(owner: nil).isEmpty)
    }
}
