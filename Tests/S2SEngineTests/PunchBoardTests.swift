import S2SNat
import Testing
@testable import S2SEngine

/// Prepared punches: used once, by their owner, for their side, before they expire; bounded.
struct PunchBoardTests {
    static func entry(owner: UInt32, role: PunchTicket.Role = .receiver, expires: UInt32 = 1_000) -> PunchBoard.Prepared {
        .init(owner: owner, role: role, endpointKey: nil, localPort: 40000, udpPort: 40001, expires: expires)
    }

    @Test func aHandleServesItsOwnerOnceForItsSide() async throws {
        let board = PunchBoard()
        let handle = try await board.add(Self.entry(owner: 1000), now: 0)
        #expect(handle.count == 32)
        await #expect(throws: EngineError.self) { try await board.take(handle, owner: 1001, role: .receiver, now: 0) }
        await #expect(throws: EngineError.self) { try await board.take(handle, owner: 1000, role: .sender, now: 0) }
        #expect(try await board.take(handle, owner: 1000, role: .receiver, now: 0).localPort == 40000)
        await #expect(throws: EngineError.self) { try await board.take(handle, owner: 1000, role: .receiver, now: 0) }
    }

    @Test func expiredPreparationsGoAndMakeRoom() async throws {
        let board = PunchBoard()
        let handle = try await board.add(Self.entry(owner: 1000, expires: 10), now: 0)
        for _ in 1..<PunchBoard.perUser { _ = try await board.add(Self.entry(owner: 1000, expires: 10), now: 0) }
        await #expect(throws: EngineError.self) { try await board.add(Self.entry(owner: 1000), now: 0) }
        _ = try await board.add(Self.entry(owner: 1000), now: 11)
        await #expect(throws: EngineError.self) { try await board.take(handle, owner: 1000, role: .receiver, now: 11) }
    }

    @Test func theBoardHoldsAFewDozenInAll() async throws {
        let board = PunchBoard()
        for user in 0..<UInt32(PunchBoard.total) { _ = try await board.add(Self.entry(owner: user), now: 0) }
        await #expect(throws: EngineError.self) { try await board.add(Self.entry(owner: 99_999), now: 0) }
    }
}
