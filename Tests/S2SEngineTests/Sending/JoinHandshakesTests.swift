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

    /// Six handshakes start at once; the seventh waits until one of them ends, and an end counted
    /// twice frees one place only.
    @Test func noMoreThanSixAtOnce() async throws {
        let handshakes = JoinHandshakes()
        var running: [JoinHandshakes.Handshake] = []
        for _ in 0..<JoinHandshakes.atOnce { running.append(await handshakes.waitForRoom()) }

        let seventh = Through()
        let waiting = Task {
            _ = await handshakes.waitForRoom()
            seventh.set()
        }
        try await Task.sleep(for: .milliseconds(50))
        #expect(!seventh.isSet)
        running[0].end()
        running[0].end()
        await waiting.value
        #expect(seventh.isSet)

        // Six run again (five of the first, the seventh): an eighth waits, however often the
        // first was ended.
        let eighth = Through()
        let alsoWaiting = Task {
            _ = await handshakes.waitForRoom()
            eighth.set()
        }
        try await Task.sleep(for: .milliseconds(50))
        #expect(!eighth.isSet)
        running[1].end()
        await alsoWaiting.value
        #expect(eighth.isSet)
    }
}
