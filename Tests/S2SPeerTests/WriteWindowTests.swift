import NIOCore
import S2SPeer
import S2SProtocol
import Synchronization
import Testing

/// A sender whose peer stops reading is held back by the write window instead of queueing
/// everything it produces in memory.
@Suite struct WriteWindowTests {
    /// What the test's two sides share.
    final class Shared: Sendable {
        let release = Mutex(false)
        let sent = Atomic<Int>(0)
    }

    @Test func sendsStallWhenThePeerStopsReading() async throws {
        let shared = Shared()
        // The receiver reads nothing until told to, then closes.
        try await TestServer.with(handler: { secure in
            while !shared.release.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(20)) }
            secure.abort()
        }) { server in
            let payload = [UInt8](repeating: 0x5A, count: 60_000)
            try await SecureChannel.connect(to: server.address, endpointKey: server.endpointKey, limits: .patient) { secure in
                async let sending: Void = {
                    // 256 MiB if nothing held it back: far more than any socket buffer.
                    for index in 0..<4_474 {
                        do {
                            try await secure.sendData(entry: 0, offset: UInt64(index) * 60_000, bytes: payload[...])
                        } catch {
                            return
                        }
                        shared.sent.add(60_000, ordering: .relaxed)
                    }
                }()
                // Wait until the sender has made no progress for a second (or for 60 s at most).
                let clock = ContinuousClock()
                let deadline = clock.now + .seconds(60)
                var last = -1
                while clock.now < deadline {
                    let now = shared.sent.load(ordering: .relaxed)
                    if now == last { break }
                    last = now
                    try await Task.sleep(for: .seconds(1))
                }
                let stalledAt = shared.sent.load(ordering: .relaxed)
                // Socket buffers on loopback hold a few MiB; the window adds 2 MiB.
                #expect(stalledAt < 48 << 20, "sent \(stalledAt) bytes to a peer that reads nothing")
                shared.release.withLock { $0 = true }
                await sending
            }
        }
    }
}
