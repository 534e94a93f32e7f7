import CSRT
import S2SLinux
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Carries a connected SRT socket's byte stream to and from one end of a local stream socket
/// pair, with a thread for each direction (libsrt's calls block), so that SwiftNIO serves the
/// other end like any TCP connection.
///
/// SRT has no half-close, and the peer protocol uses one (a sender that has sent everything
/// still reads the receiver's answers). So each direction is framed: a 4-byte big-endian length
/// and that many bytes, at most ``chunk``; a length of 0 is the end of that direction. When both
/// directions have ended, or the SRT connection breaks, the SRT socket closes (after what it
/// still holds has been delivered) and so does the bridge's end of the pair.
enum SRTBridge {
    /// The most bytes in one frame: what one read of the local socket takes.
    static let chunk = 64 << 10

    /// Starts the two threads for `socket`; returns the caller's end of the pair.
    static func start(_ socket: SRTSocket) throws(StunError) -> CInt {
        var pair: [CInt] = [-1, -1]
        guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &pair) == 0 else {
            throw .network("socketpair: \(String(cString: strerror(errno)))")
        }
        let (local, caller) = (pair[0], pair[1])
        let ends = Ends(socket: socket, local: local)
        let directions: [@Sendable (SRTSocket, CInt) -> Void] = [outbound, inbound]
        for (started, direction) in directions.enumerated() {
            if let failure = DetachedThread.start({
                direction(socket, local)
                ends.finished()
            }) {
                // Without both threads the connection is no use: a thread already running ends
                // once its socket is shut down and closed, and the last to finish closes.
                shutdown(local, Int32(SHUT_RDWR))
                socket.close()
                Glibc.close(caller)
                for _ in started..<directions.count { ends.finished() }
                throw .network("no thread for the SRT connection: \(failure)")
            }
        }
        return caller
    }

    /// Closes the SRT socket and the bridge's end once both threads are done.
    private final class Ends: Sendable {
        let socket: SRTSocket
        let local: CInt
        private let running = Mutex(2)

        init(socket: SRTSocket, local: CInt) {
            self.socket = socket
            self.local = local
        }

        func finished() {
            let last = running.withLock { count in
                count -= 1
                return count == 0
            }
            guard last else { return }
            socket.close()
            Glibc.close(local)
        }
    }

    /// Local socket to SRT: frames of what is read; an empty frame at the end of the stream.
    /// A failed read breaks the SRT connection without the empty frame (the peer sees the loss).
    static let outbound: @Sendable (SRTSocket, CInt) -> Void = { socket, local in
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 4 + chunk, alignment: 8)
        defer { buffer.deallocate() }
        guard let base = buffer.baseAddress else { return }
        while true {
            let count = read(local, base + 4, chunk)
            if count < 0 && errno == EINTR { continue }
            guard count >= 0 else {
                socket.close()
                return
            }
            buffer.storeBytes(of: UInt32(count).bigEndian, toByteOffset: 0, as: UInt32.self)
            guard sendAll(socket, base, 4 + count), count > 0 else { return }
        }
    }

    /// SRT to the local socket: each frame's bytes written on; the empty frame half-closes the
    /// local socket. A broken SRT connection or a malformed frame closes both of its directions.
    static let inbound: @Sendable (SRTSocket, CInt) -> Void = { socket, local in
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 8)
        defer { buffer.deallocate() }
        guard let base = buffer.baseAddress else { return }
        var decoder = FrameDecoder()
        while true {
            let count = Int(srt_recv(socket.id, base.assumingMemoryBound(to: CChar.self), Int32(chunk)))
            guard count > 0 else {
                shutdown(local, Int32(SHUT_RDWR))
                return
            }
            for piece in decoder.decode(UnsafeRawBufferPointer(start: base, count: count)) {
                switch piece {
                case .bytes(let range):
                    guard writeAll(local, base + range.lowerBound, range.count) else {
                        socket.close()
                        return
                    }
                case .end:
                    shutdown(local, Int32(SHUT_WR))
                    return
                case .malformed:
                    shutdown(local, Int32(SHUT_RDWR))
                    socket.close()
                    return
                }
            }
        }
    }

    /// Reads the frames of one direction from what SRT delivers, in pieces of any size.
    struct FrameDecoder {
        enum Piece: Equatable {
            /// Payload bytes, at these offsets of the piece given.
            case bytes(Range<Int>)
            /// The empty frame: nothing follows in this direction.
            case end
            /// A length above ``SRTBridge/chunk``.
            case malformed
        }

        private var header: [UInt8] = []
        private var remaining = 0

        /// What `received` holds, in order; nothing after `.end` or `.malformed` counts.
        mutating func decode(_ received: UnsafeRawBufferPointer) -> [Piece] {
            var pieces: [Piece] = []
            var offset = 0
            while offset < received.count {
                if remaining > 0 {
                    let take = min(remaining, received.count - offset)
                    pieces.append(.bytes(offset..<(offset + take)))
                    offset += take
                    remaining -= take
                    continue
                }
                let take = min(4 - header.count, received.count - offset)
                header += received[offset..<(offset + take)]
                offset += take
                guard header.count == 4 else { break }
                let length = header.reduce(0) { $0 << 8 | Int($1) }
                header = []
                guard length > 0 else { return pieces + [.end] }
                guard length <= chunk else { return pieces + [.malformed] }
                remaining = length
            }
            return pieces
        }
    }

    private static func sendAll(_ socket: SRTSocket, _ bytes: UnsafeMutableRawPointer, _ count: Int) -> Bool {
        var sent = 0
        while sent < count {
            let result = Int(srt_send(socket.id, (bytes + sent).assumingMemoryBound(to: CChar.self), Int32(count - sent)))
            guard result > 0 else { return false }
            sent += result
        }
        return true
    }

    private static func writeAll(_ fd: CInt, _ bytes: UnsafeMutableRawPointer, _ count: Int) -> Bool {
        var written = 0
        while written < count {
            let result = write(fd, bytes + written, count - written)
            if result < 0 && errno == EINTR { continue }
            guard result > 0 else { return false }
            written += result
        }
        return true
    }
}
