import S2SProtocol
import NIOCore
import Testing
@testable import S2SPeer

/// Reading `TCP_INFO` at the kernel's offsets, and when a buffer maximum counts as the limit.
struct TCPPathReportTests {
    @Test func fieldsAreReadAtTheKernelsOffsets() {
        var bytes = [UInt8](repeating: 0, count: TCPPathReport.infoSize)
        func put<T: FixedWidthInteger>(_ value: T, at offset: Int) {
            withUnsafeBytes(of: value.littleEndian) { for (i, byte) in $0.enumerated() { bytes[offset + i] = byte } }
        }
        put(UInt32(150_000), at: 68)
        put(UInt64(9_000_000), at: 168)
        put(UInt64(1_000_000), at: 176)
        put(UInt64(6_000_000), at: 184)
        let report = bytes.withUnsafeBytes { TCPPathReport(info: $0) }
        #expect(report == TCPPathReport(roundTrip: 150_000, busyTime: 9_000_000, receiveWindowLimited: 1_000_000, sendBufferLimited: 6_000_000))
        #expect(report.limitation == .sendBuffer(percent: 66))
    }

    @Test func anOlderKernelsShorterStructLeavesTheLaterFieldsZero() {
        let bytes = [UInt8](repeating: 0xFF, count: 100)
        let report = bytes.withUnsafeBytes { TCPPathReport(info: $0) }
        #expect(report.roundTrip == UInt32.max && report.busyTime == 0 && report.limitation == nil)
    }

    @Test func onlyASignificantShareOnALongLinkCounts() {
        let long: UInt32 = 50_000
        #expect(TCPPathReport(roundTrip: long, busyTime: 10_000_000, receiveWindowLimited: 5_000_000, sendBufferLimited: 0).limitation
            == .receiveWindow(percent: 50))
        // A LAN: the maxima never matter.
        #expect(TCPPathReport(roundTrip: 300, busyTime: 10_000_000, receiveWindowLimited: 0, sendBufferLimited: 9_000_000).limitation == nil)
        // Too short to tell, or too small a share.
        #expect(TCPPathReport(roundTrip: long, busyTime: 500_000, receiveWindowLimited: 0, sendBufferLimited: 500_000).limitation == nil)
        #expect(TCPPathReport(roundTrip: long, busyTime: 10_000_000, receiveWindowLimited: 2_000_000, sendBufferLimited: 2_000_000).limitation == nil)
        // A kernel's counters beyond the busy time are capped at 100 %.
        #expect(TCPPathReport(roundTrip: long, busyTime: 2_000_000, receiveWindowLimited: 0, sendBufferLimited: 3_000_000).limitation
            == .sendBuffer(percent: 100))
    }

    @Test func aRealConnectionHasARoundTrip() async throws {
        try await TestServer.with { server in
            let report = try await SecureChannel.connect(to: server.address, endpointKey: server.endpointKey, limits: .patient) { secure in
                try await secure.send(.fileAbort(entry: 1))
                _ = try await secure.nextNonKeepalive()
                let report = await secure.pathReport()
                await secure.close()
                return report
            }
            // The kernel answered for this connection (its round trip on loopback is short, but not
            // on a busy machine: no bound here), and one record is no limitation.
            let measured = try #require(report)
            #expect(measured.roundTrip > 0)
            #expect(measured.busyTime < TCPPathReport.minimumBusyTime && measured.limitation == nil)
        }
    }
}
