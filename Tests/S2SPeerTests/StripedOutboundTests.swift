import NIOCore
import Testing
@testable import S2SPeer

/// The sender's queue of a striped session: a connection takes as many records as its room allows
/// (at least one), in order; a record taken is no longer held by the queue; the queue's end.
struct StripedOutboundTests {
    static func record(_ byte: UInt8, size: Int = 100) -> ByteBuffer {
        ByteBuffer(repeating: byte, count: size)
    }

    @Test func aConnectionTakesRecordsInOrderUpToItsRoomAndAtLeastOne() async throws {
        let outbound = StripedOutbound(capacity: 10_000)
        for byte in UInt8(0)..<10 { try await outbound.enqueue(Self.record(byte)) }
        let three = try #require(try await outbound.take(upTo: 350))
        #expect(three.map { $0.getInteger(at: 0, as: UInt8.self) } == [0, 1, 2])
        let one = try #require(try await outbound.take(upTo: 10))
        #expect(one.map { $0.getInteger(at: 0, as: UInt8.self) } == [3])
        outbound.finish()
        let rest = try #require(try await outbound.take(upTo: 10_000))
        #expect(rest.map { $0.getInteger(at: 0, as: UInt8.self) } == [4, 5, 6, 7, 8, 9])
        #expect(try await outbound.take(upTo: 10_000) == nil)
    }

    @Test func aRecordTakenIsNoLongerHeldWhileOthersWait() async throws {
        let outbound = StripedOutbound(capacity: 10_000)
        // A record's buffer, as the sender's read batch shares it with the record.
        var shared = Self.record(1)
        try await outbound.enqueue(shared)
        try await outbound.enqueue(Self.record(2))
        _ = try await outbound.take(upTo: 100)
        // Only `shared` holds the storage now, so writing to it does not copy it.
        let address = shared.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) }
        shared.setInteger(UInt8(9), at: 0)
        #expect(shared.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) } == address)
    }

    @Test func aFailureEndsEveryTakeAndDropsTheQueue() async throws {
        let outbound = StripedOutbound(capacity: 10_000)
        try await outbound.enqueue(Self.record(1))
        outbound.fail(.closed("a connection failed"))
        await #expect(throws: PeerError.self) { try await outbound.take(upTo: 1000) }
        await #expect(throws: PeerError.self) { try await outbound.enqueue(Self.record(2)) }
    }
}
