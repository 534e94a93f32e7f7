import S2SPeer
import S2SProtocol
import Testing
@testable import S2SEngine

/// The receiver's merge of a striped session: records from several connections come out in SEQ
/// order and many per take; a connection that runs ahead is read no further than the merger's
/// capacity while the one carrying the next record is always read; a gap no connection can fill
/// any more ends the session at once.
struct StripeMergerTests {
    /// A connection that returns its script, then waits for more (or, `endsCleanly`, ends with
    /// the sender's orderly close); counts what it returned.
    actor ScriptedConnection: StripeConnection {
        private var script: [Record]
        private let endsCleanly: Bool
        private var closed = false
        private var parked: CheckedContinuation<Void, Never>?
        private(set) var reads = 0

        init(_ script: [Record], endsCleanly: Bool = false) {
            self.script = script
            self.endsCleanly = endsCleanly
        }

        func receive() async throws -> Record {
            while true {
                if !script.isEmpty {
                    reads += 1
                    return script.removeFirst()
                }
                if endsCleanly || closed { throw PeerError.closed("the peer closed the connection") }
                await withCheckedContinuation { parked = $0 }
            }
        }

        func send(_ records: [Record]) {
            script += records
            parked?.resume()
            parked = nil
        }

        func close() {
            closed = true
            parked?.resume()
            parked = nil
        }
    }

    static let size = 1000

    static func record(_ number: Int) -> Record {
        .sequenced(sequence: UInt64(number), .data(entry: 0, offset: UInt64(number * size), bytes: ArraySlice(repeating: UInt8(number % 256), count: size)))
    }

    static func numbers(_ records: [Record]) -> [Int] {
        records.compactMap { record in
            guard case .sequenced(let number, _) = record else { return nil }
            return Int(number)
        }
    }

    /// Takes from `merger` until `count` records came; returns them and how many takes it needed.
    static func take(_ count: Int, from merger: StripeMerger) async throws -> (records: [Record], takes: Int) {
        var records: [Record] = []
        var takes = 0
        while records.count < count {
            records += try await merger.take()
            takes += 1
        }
        return (records, takes)
    }

    /// Waits until `connection` has returned `count` records.
    static func waitForReads(_ count: Int, of connection: ScriptedConnection) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while await connection.reads < count, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(5))
        }
    }

    @Test func recordsFromEveryConnectionComeInOrderAndManyAtATime() async throws {
        let count = 300
        let shares = (0..<3).map { share in stride(from: share, to: count, by: 3).map(Self.record) }
        let merger = StripeMerger(extra: 2, gapTimeout: .seconds(30))
        // The further connections' records arrive first: the session must wait for the main one's.
        let stripes = [ScriptedConnection(shares[1], endsCleanly: true), ScriptedConnection(shares[2], endsCleanly: true)]
        var feeds: [Task<Void, Never>] = []
        for stripe in stripes {
            #expect(merger.admit(stripe))
            feeds.append(Task { await merger.feedStripe(stripe) })
        }
        let main = ScriptedConnection(Array(shares[0].dropFirst()))
        merger.start(main: main, first: shares[0][0])
        // Everything read (300 small records fit the capacity) before the session takes: it takes
        // them all at once.
        for (connection, share) in zip([main] + stripes, [shares[0].dropFirst().count, shares[1].count, shares[2].count]) {
            try await Self.waitForReads(share, of: connection)
        }
        let (records, takes) = try await Self.take(count, from: merger)
        #expect(Self.numbers(records) == Array(0..<count))
        #expect(records == (0..<count).map(Self.record))
        #expect(takes == 1)
        await main.close()
        await merger.end()
        for feed in feeds { await feed.value }
    }

    @Test func aConnectionThatRunsAheadIsReadNoFurtherThanTheCapacity() async throws {
        let capacity = 10 * Self.record(1).heldBytes
        let merger = StripeMerger(extra: 1, gapTimeout: .seconds(30), capacity: capacity)
        // The further connection carries 1 ... 100; 0 comes on the main connection, later.
        let ahead = ScriptedConnection((1...100).map(Self.record))
        #expect(merger.admit(ahead))
        let feed = Task { await merger.feedStripe(ahead) }
        let main = ScriptedConnection([])
        // The further connection runs ahead as far as it may, then stops reading.
        try await Self.waitForReads(10, of: ahead)
        try await Task.sleep(for: .milliseconds(200))
        let readAhead = await ahead.reads
        #expect(readAhead == 10)
        merger.start(main: main, first: Self.record(0))
        let (records, _) = try await Self.take(101, from: merger)
        #expect(Self.numbers(records) == Array(0...100))
        let readInAll = await ahead.reads
        #expect(readInAll == 100)
        await main.close()
        await ahead.close()
        await merger.end()
        await feed.value
    }

    @Test func aFloodOfTinyRecordsIsBoundedByTheirNumber() async throws {
        let merger = StripeMerger(extra: 1, gapTimeout: .seconds(30), capacity: 10_000)
        // A hostile sender: 1-byte records far ahead of a gap it never fills.
        let flood = ScriptedConnection((1...10_000).map { number in
            .sequenced(sequence: UInt64(number), .data(entry: 0, offset: UInt64(number), bytes: [0]))
        })
        #expect(merger.admit(flood))
        let feed = Task { await merger.feedStripe(flood) }
        try await Self.waitForReads(10_000 / (Record.holdingCost + 1), of: flood)
        try await Task.sleep(for: .milliseconds(200))
        let read = await flood.reads
        #expect(read <= 10_000 / (Record.holdingCost + 1) + 1, "\(read) records held")
        await flood.close()
        await merger.end()
        await feed.value
    }

    @Test func aGapNoOpenConnectionCanFillEndsTheSessionAtOnce() async throws {
        let merger = StripeMerger(extra: 1, gapTimeout: .seconds(60))
        let stripe = ScriptedConnection([], endsCleanly: true)
        let main = ScriptedConnection([])
        #expect(merger.admit(stripe))
        // The main connection holds 1; the only other connection ends without 0.
        merger.start(main: main, first: Self.record(1))
        let feed = Task { await merger.feedStripe(stripe) }
        let started = ContinuousClock.now
        await #expect(throws: PeerError.self) { try await merger.take() }
        #expect(ContinuousClock.now - started < .seconds(10))
        await main.close()
        await merger.end()
        await feed.value
    }

    @Test func aGapThatAnOpenConnectionMayStillFillWaitsForTheGapTimeout() async throws {
        let merger = StripeMerger(extra: 2, gapTimeout: .milliseconds(300))
        let idle = ScriptedConnection([])
        let ahead = ScriptedConnection([Self.record(2)])
        let main = ScriptedConnection([])
        #expect(merger.admit(idle))
        #expect(merger.admit(ahead))
        let feeds = [Task { await merger.feedStripe(idle) }, Task { await merger.feedStripe(ahead) }]
        merger.start(main: main, first: Self.record(1))
        let started = ContinuousClock.now
        do {
            _ = try await merger.take()
            Issue.record("took a record although 0 never came")
        } catch {
            #expect("\(error)".contains("did not come within"), "\(error)")
        }
        #expect(ContinuousClock.now - started >= .milliseconds(300))
        await main.close()
        await merger.end()
        for feed in feeds { await feed.value }
    }
}
