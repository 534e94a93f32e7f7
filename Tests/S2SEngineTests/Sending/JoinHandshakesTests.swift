import Synchronization
import Testing
@testable import S2SEngine

struct JoinHandshakesTests {
    /// Whether a task got past `waitForRoom()`.
    final class Through: Sendable {
        private let value = Mutex(false)
        var isSet: Bool { value.withLock { $0 } }
        func set() { value.withLock { $0 = true } }
    }

    /// Checks that one more connection waits for room until `ending` ends a handshake.
    static func oneMoreWaits(for handshakes: JoinHandshakes, until ending: () -> Void) async throws {
        let through = Through()
        let waiting = Task {
            _ = await handshakes.waitForRoom()
            through.set()
        }
        try await Task.sleep(for: .milliseconds(50))
        #expect(!through.isSet)
        ending()
        await waiting.value
        #expect(through.isSet)
    }

    /// Six handshakes start at once; the seventh waits until one of them ends, and an end counted
    /// twice frees one place only.
    @Test func noMoreThanSixAtOnce() async throws {
        let handshakes = JoinHandshakes()
        var running: [JoinHandshakes.Handshake] = []
        for _ in 0..<JoinHandshakes.atOnce { running.append(await handshakes.waitForRoom()) }
        try await Self.oneMoreWaits(for: handshakes) {
            running[0].end()
            running[0].end()
        }
        // Six run again (five of the first, the seventh): an eighth waits, however often the
        // first was ended.
        try await Self.oneMoreWaits(for: handshakes) { running[1].end() }
    }
}
