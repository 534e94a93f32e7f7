import S2SPeer
import S2SProtocol
import Synchronization
import Testing
@testable import S2SEngine

/// The receiver's read-ahead: records in their order and the connection's failure after them,
/// nothing read past the sender's DONE, no more than its capacity held, a stop that drains to the
/// end of stream or gives up at its patience, and the session's cancellation reaching the read.
struct RecordReadAheadTests {
    /// A connection's records as `receive()` returns them, then `end` thrown; counts its calls.
    final class Source: Sendable {
        private let state: Mutex<(records: [Record], calls: Int, closed: Bool)>
        let end: PeerError

        init(_ records: [Record], end: PeerError = .closed("the peer closed the connection")) {
            state = Mutex((records, 0, false))
            self.end = end
        }

        var calls: Int { state.withLock { $0.calls } }

        /// Closes the connection: every later call throws.
        func close() { state.withLock { $0.closed = true } }

        func receive() async throws -> Record {
            let next: Record? = state.withLock { state in
                state.calls += 1
                guard !state.closed, !state.records.isEmpty else { return nil }
                return state.records.removeFirst()
            }
            guard let next else { throw end }
            return next
        }
    }

    static func data(_ index: Int, size: Int = 100) -> Record {
        .data(entry: 0, offset: UInt64(index * size), bytes: ArraySlice(repeating: UInt8(index), count: size))
    }

    /// Everything the read-ahead hands over until it throws.
    static func drain(_ readAhead: RecordReadAhead) async -> (records: [Record], error: (any Error)?) {
        var records: [Record] = []
        do {
            while true { records += try await readAhead.take() }
        } catch {
            return (records, error)
        }
    }

    @Test func recordsComeInOrderAndTheFailureAfterThem() async throws {
        let sent = (0..<20).map { Self.data($0) } + [.fileEnd(entry: 0, digest: [1, 2])]
        let source = Source(sent, end: .timeout(.idle))
        let readAhead = RecordReadAhead { try await source.receive() }
        let (records, error) = await Self.drain(readAhead)
        #expect(records == sent)
        #expect(error as? PeerError == .timeout(.idle))
    }

    @Test func nothingIsReadAfterTheSendersDone() async throws {
        let source = Source([Self.data(0), .done, Self.data(1)])
        let readAhead = RecordReadAhead { try await source.receive() }
        let (records, error) = await Self.drain(readAhead)
        #expect(records == [Self.data(0), .done])
        #expect(error != nil)
        #expect(source.calls == 2)
    }

    @Test func noMoreThanItsCapacityWaits() async throws {
        let source = Source((0..<10).map { Self.data($0, size: 600) })
        let readAhead = RecordReadAhead(capacity: 1000) { try await source.receive() }
        try await Task.sleep(for: .milliseconds(200))
        // One record held, the second read and waiting for room: nothing more.
        #expect(source.calls == 2)
        let first = try await readAhead.take()
        #expect(first == [Self.data(0, size: 600)])
        try await Task.sleep(for: .milliseconds(200))
        #expect(source.calls == 3)
        let (rest, _) = await Self.drain(readAhead)
        #expect(rest == (1..<10).map { Self.data($0, size: 600) })
    }

    @Test func aStopDrainsToTheEndOfStreamWithoutGivingUp() async throws {
        let source = Source((0..<50).map { Self.data($0, size: 600) })
        let readAhead = RecordReadAhead(capacity: 1000) { try await source.receive() }
        _ = try await readAhead.take()
        let gaveUp = Mutex(false)
        await readAhead.stop(within: .seconds(30)) { gaveUp.withLock { $0 = true } }
        #expect(!gaveUp.withLock { $0 })
        #expect(source.calls == 51)
    }

    @Test(.timeLimit(.minutes(1)))
    func aStopGivesUpAtItsPatienceWhenTheStreamDoesNotEnd() async throws {
        /// A peer that never stops sending, until the connection is closed.
        final class Endless: Sendable {
            let closed = Mutex(false)
            func receive() async throws -> Record {
                try await Task.sleep(for: .milliseconds(5))
                if closed.withLock({ $0 }) { throw PeerError.closed("closed") }
                return RecordReadAheadTests.data(0)
            }
        }
        let endless = Endless()
        let readAhead = RecordReadAhead { try await endless.receive() }
        let start = ContinuousClock.now
        await readAhead.stop(within: .milliseconds(300)) { endless.closed.withLock { $0 = true } }
        #expect(endless.closed.withLock { $0 })
        #expect(ContinuousClock.now - start >= .milliseconds(300))
    }

    @Test(.timeLimit(.minutes(1)))
    func cancellingTheSessionWhileItWaitsCancelsTheRead() async throws {
        let readCancelled = Mutex(false)
        let readAhead = RecordReadAhead {
            do {
                try await Task.sleep(for: .seconds(600))
            } catch {
                readCancelled.withLock { $0 = true }
                throw error
            }
            return .done
        }
        let session = Task { try await readAhead.take() }
        try await Task.sleep(for: .milliseconds(100))
        session.cancel()
        await #expect(throws: CancellationError.self) { try await session.value }
        await readAhead.stop(within: .seconds(30)) {}
        #expect(readCancelled.withLock { $0 })
    }
}
