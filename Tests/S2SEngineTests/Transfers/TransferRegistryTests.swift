import S2SCore
import S2SProtocol
import Testing
@testable import S2SEngine

/// The registry's publishing, on a ``ManualClock``: rates over the window of samples, the
/// withdrawal of finished transfers after ``TransferRegistry/retention``, the cap of
/// ``TransferRegistry/maxFinished``, and the events each step emits, in order.
@Suite(.timeLimit(.minutes(1)))
struct TransferRegistryTests {
    private let clock = ManualClock()
    private let events: AsyncStream<EngineEvent>
    private let sink: EngineEventSink
    private let registry: TransferRegistry

    init() {
        (events, sink) = EngineEventSink.makeStream()
        registry = TransferRegistry(events: sink, clock: clock)
    }

    private func receiving() async -> Transfer {
        await registry.start(direction: .receive, owner: 1000, digestAlgorithm: "xxh3-128", initialState: .receiving)
    }

    /// A transfer that has just finished, published as such.
    private func finished() async -> Transfer {
        let transfer = await receiving()
        transfer.finish(.done)
        await registry.finished(transfer)
        return transfer
    }

    /// Every event emitted so far, in short form ("added 1", "changed 1 receiving 1024 B/s",
    /// "finished 1 done", "removed 1"). Ends the stream: call it once, at the end.
    private func emitted() async -> [String] {
        sink.finish()
        var log: [String] = []
        for await event in events {
            switch event {
            case .transferAdded(let transfer): log.append("added \(transfer.number)")
            case .transferChanged(let transfer, let now, _):
                log.append("changed \(transfer.number) \(now.state) \(now.bytesDone) B \(now.rate) B/s")
            case .transferFinished(let transfer, let now, _): log.append("finished \(transfer.number) \(now.state)")
            case .transferRemoved(let transfer): log.append("removed \(transfer.number)")
            case .endpointAdded, .endpointRemoved, .endpointCountersChanged: log.append("endpoint")
            }
        }
        return log
    }

    /// An incoming transfer its sender paused: no longer running (it counts toward no limit),
    /// continued by the next session with its token, cancelled or expired as a whole.
    @Test func aPausedIncomingTransferWaitsForItsToken() async throws {
        let token = try TransferToken(bytes: Array(repeating: 7, count: TransferToken.length))
        let other = try TransferToken(bytes: Array(repeating: 8, count: TransferToken.length))
        let transfer = await receiving()
        #expect(await registry.activeIncomingCount == 1)
        await registry.pauseIncoming(transfer, endpoint: 5, token: token)
        #expect(transfer.snapshot.state == .paused && !transfer.snapshot.state.isFinished)
        #expect(await registry.activeIncomingCount == 0)
        #expect(await registry.activeCount == 1, "the daemon holds it: no idle exit")
        // Another token, or another endpoint, continues nothing.
        #expect(await registry.resumePaused(endpoint: 5, token: other) == nil)
        #expect(await registry.resumePaused(endpoint: 6, token: token) == nil)
        let resumed = try #require(await registry.resumePaused(endpoint: 5, token: token))
        #expect(resumed === transfer && transfer.snapshot.state == .receiving)
        #expect(await registry.activeIncomingCount == 1)
        #expect(await registry.resumePaused(endpoint: 5, token: token) == nil, "taken once")
        // Paused again, then cancelled by its receiver: the token is remembered once.
        await registry.pauseIncoming(transfer, endpoint: 5, token: token)
        #expect(await registry.takePaused(transfer)?.token == token)
        #expect(await registry.takePaused(transfer) == nil)
        #expect(await registry.takeCancelledWhilePaused(endpoint: 5, token: token))
        #expect(await registry.takeCancelledWhilePaused(endpoint: 5, token: token) == false)
        // Another one, whose resume records expire.
        let second = await receiving()
        await registry.pauseIncoming(second, endpoint: 5, token: other)
        await registry.expirePaused(endpoint: 5, token: other, reason: "gone")
        #expect(second.snapshot.state == .failed && second.snapshot.error == "gone")
        #expect(await emitted() == [
            "added 1", "changed 1 paused 0 B 0 B/s", "changed 1 receiving 0 B 0 B/s", "changed 1 paused 0 B 0 B/s",
            "added 2", "changed 2 paused 0 B 0 B/s", "finished 2 failed",
        ])
    }

    @Test func theRateIsTheLastEightSamples() async {
        let transfer = await receiving()
        let step = TransferRegistry.tickInterval
        #expect(await registry.tick() == step)
        // 256 KiB every quarter of a second, for eight ticks: 1 MiB/s throughout.
        for _ in 1...8 {
            clock.advance(by: step)
            transfer.addBytes(256 << 10)
            #expect(await registry.tick() == step)
            #expect(transfer.snapshot.rate == 1 << 20)
        }
        // Then nothing more: the rate falls as the samples with the bytes leave the window of
        // eight (seven intervals), and is 0 when the last one has left.
        for idle in 1...7 {
            clock.advance(by: step)
            await registry.tick()
            let bytesInWindow = Double((7 - idle) * (256 << 10))
            #expect(transfer.snapshot.rate == UInt64(bytesInWindow / 1.75))
        }
        #expect(transfer.snapshot.rate == 0)
        let log = await emitted()
        #expect(log.first == "added 1")
        #expect(log.dropFirst().first == "changed 1 receiving 262144 B 1048576 B/s")
        // One event per tick that changed something: eight with bytes, seven with a lower rate.
        #expect(log.count == 1 + 8 + 7)
    }

    @Test func unchangedProgressIsNotPublished() async {
        let transfer = await receiving()
        await registry.tick()
        clock.advance(by: .seconds(1))
        await registry.tick()
        transfer.update { $0.currentFile = "a" }
        await registry.tick()
        await registry.tick()
        #expect(await emitted() == ["added 1", "changed 1 receiving 0 B 0 B/s"])
    }

    @Test func aQueuedTransferLetsTheLoopSleep() async {
        let transfer = await registry.start(direction: .send, owner: 1000, digestAlgorithm: "xxh3-128", initialState: .queued)
        #expect(await registry.tick() == nil)
        transfer.update { $0.state = .connecting }
        #expect(await registry.tick() == TransferRegistry.tickInterval)
    }

    @Test func aFinishedTransferIsWithdrawnAfterTheRetention() async {
        let transfer = await finished()
        #expect(await registry.tick() == TransferRegistry.retention)
        clock.advance(by: TransferRegistry.retention - .nanoseconds(1))
        #expect(await registry.tick() == .nanoseconds(1))
        #expect(await registry.transfer(number: transfer.number) != nil)
        clock.advance(by: .nanoseconds(1))
        #expect(await registry.tick() == nil)
        #expect(await registry.transfer(number: transfer.number) == nil)
        #expect(await emitted() == ["added 1", "finished 1 done", "removed 1"])
    }

    @Test func atMostMaxFinishedAreKept() async {
        for _ in 0...TransferRegistry.maxFinished { _ = await finished() }
        await registry.tick()
        let kept = await registry.transfers(in: .everyone).map(\.number)
        #expect(kept.count == TransferRegistry.maxFinished)
        // The oldest goes first.
        #expect(kept.first == 2)
        #expect(await emitted().filter { $0.hasPrefix("removed") } == ["removed 1"])
    }

    @Test func aRestoredTransferKeepsWhatIsLeftOfItsRetention() async {
        let transfer = Transfer(number: 7, direction: .send, owner: 1000, digestAlgorithm: "xxh3-128", initialState: .done)
        var record = transfer.record()
        let wallNow: UInt64 = 1_000_000_000_000_000
        record.progress.finishedTimestamp = wallNow - 600_000_000
        await registry.restoreFinished([record], now: wallNow)
        // 600 s of its 900 passed before the restart: it goes 300 s after it.
        #expect(await registry.tick() == .seconds(300))
        clock.advance(by: .seconds(300))
        await registry.tick()
        #expect(await registry.transfers(in: .everyone).isEmpty)
        // Restoring is not news; the withdrawal is.
        #expect(await emitted() == ["removed 7"])
    }
}
