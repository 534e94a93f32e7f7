import NIOCore
import Testing
@testable import S2SNat
#if canImport(Glibc)
import Glibc
#endif

/// SRT as a punched route's UDP way: the frames that give its byte stream a half-close, read from
/// pieces of any size and refused when hostile, and a real rendezvous between two libsrt sockets
/// on loopback carrying bytes both ways with each direction ending on its own.
struct SRTBridgeTests {
    private func decode(_ chunks: [[UInt8]]) -> [SRTBridge.FrameDecoder.Piece] {
        var decoder = SRTBridge.FrameDecoder()
        return chunks.flatMap { chunk in chunk.withUnsafeBytes { decoder.decode($0) } }
    }

    @Test func framesAreReadAcrossPiecesOfAnySize() {
        // One frame of 3 bytes, its header split over two pieces, its payload over two more.
        #expect(decode([[0, 0], [0, 3, 7], [8, 9]]) == [.bytes(2..<3), .bytes(0..<2)])
        // Two frames and the end, in one piece: nothing after the end counts.
        #expect(decode([[0, 0, 0, 1, 5, 0, 0, 0, 2, 6, 7, 0, 0, 0, 0, 9, 9]]) == [.bytes(4..<5), .bytes(9..<11), .end])
    }

    @Test func aLengthAboveTheChunkIsMalformed() {
        let length = UInt32(SRTBridge.chunk + 1)
        let header = withUnsafeBytes(of: length.bigEndian) { Array($0) }
        #expect(decode([[0, 0, 0, 1, 42] + header + [1, 2, 3]]) == [.bytes(4..<5), .malformed])
        #expect(decode([[0xFF, 0xFF, 0xFF, 0xFF]]) == [.malformed])
    }

    /// A UDP port free on loopback now.
    private func freeUDPPort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        #expect(fd >= 0)
        defer { close(fd) }
        let address = try SocketAddress(ipAddress: "127.0.0.1", port: 0)
        #expect(address.withSockAddr { bind(fd, $0, socklen_t($1)) } == 0)
        var bound = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &bound) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return Int(UInt16(bigEndian: bound.sin_port))
    }

    private func write(_ fd: CInt, _ bytes: [UInt8]) {
        var written = 0
        while written < bytes.count {
            let result = bytes[written...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            guard result > 0 else { break }
            written += result
        }
        #expect(written == bytes.count)
    }

    /// Everything until the end of the stream.
    private func readToEnd(_ fd: CInt) -> [UInt8] {
        var all: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            guard count > 0 else { return all }
            all += buffer[..<count]
        }
    }

    @Test(.timeLimit(.minutes(1)))
    func aRendezvousOnLoopbackCarriesBytesBothWaysAndEachDirectionEndsOnItsOwn() async throws {
        let (portA, portB) = (try freeUDPPort(), try freeUDPPort())
        async let a = SRTRendezvous.connect(from: portA, to: try SocketAddress(ipAddress: "127.0.0.1", port: portB), patience: .seconds(20))
        async let b = SRTRendezvous.connect(from: portB, to: try SocketAddress(ipAddress: "127.0.0.1", port: portA), patience: .seconds(20))
        let (sideA, sideB) = try await (a, b)
        defer {
            close(sideA)
            close(sideB)
        }
        // A read that would block for ever fails the test instead of hanging the suite.
        var timeout = timeval(tv_sec: 20, tv_usec: 0)
        for side in [sideA, sideB] {
            #expect(setsockopt(side, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size)) == 0)
        }
        // More than a frame, so that it crosses several; then A's direction ends, B still answers.
        let request = (0..<300_000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        write(sideA, request)
        #expect(shutdown(sideA, Int32(SHUT_WR)) == 0)
        #expect(readToEnd(sideB) == request)
        write(sideB, [1, 2, 3])
        #expect(shutdown(sideB, Int32(SHUT_WR)) == 0)
        #expect(readToEnd(sideA) == [1, 2, 3])
    }

    @Test(.timeLimit(.minutes(1)))
    func aRendezvousWithNobodyGivesUpAtItsPatience() async throws {
        let start = ContinuousClock.now
        await #expect(throws: (any Error).self) {
            _ = try await SRTRendezvous.connect(from: try freeUDPPort(), to: try SocketAddress(ipAddress: "127.0.0.1", port: try freeUDPPort()), patience: .seconds(1))
        }
        // Well under libsrt's own rendezvous timeout (30 s); with room for a loaded machine, where
        // the other tests' blocking reads hold the cooperative pool's threads for seconds.
        #expect(ContinuousClock.now - start < .seconds(15))
    }
}
