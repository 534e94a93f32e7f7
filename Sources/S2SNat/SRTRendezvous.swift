import CSRT
public import NIOCore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A punched route over UDP, for NATs that will not let TCP's simultaneous open through: SRT
/// (libsrt) in rendezvous mode, from the UDP port STUN mapped, to the other side's mapped UDP
/// address. Both sides send SRT handshakes to each other until the holes open, as they do for
/// TCP; SRT in file mode then gives a reliable, congestion-controlled byte stream.
///
/// The connection is handed to the rest of s2s as one end of a local socket pair (``SRTBridge``),
/// so the peer protocol runs over it unchanged, Noise session and all. SRT's own encryption is
/// off: the Noise session inside is the encryption.
public enum SRTRendezvous {
    /// libsrt set up once per process; its own log quiet but for fatal errors (each failure is
    /// reported with its reason by the caller).
    private static let library: Result<Void, StunError> = {
        guard srt_startup() >= 0 else { return .failure(.network("libsrt could not start: \(String(cString: srt_getlasterror_str()))")) }
        srt_setloglevel(LOG_CRIT)
        return .success(())
    }()

    /// Connects from `localPort` to `remote` by rendezvous, trying until `patience` has passed
    /// (or the task is cancelled). Returns the descriptor of the local end of the connection,
    /// a connected stream socket that the caller owns.
    public static func connect(from localPort: Int, to remote: SocketAddress, patience: Duration) async throws -> CInt {
        try library.get()
        let socket = try SRTSocket(localPort: localPort, remote: remote, patience: patience)
        do {
            // The handshakes go on in libsrt's threads; a blocking connect could not be stopped
            // (srt_close waits for it), so this one does not block and is looked at instead.
            try socket.startConnecting(to: remote)
            try await StunProbe.withDeadline(patience) {
                while try socket.isConnecting() { try await Task.sleep(for: pollInterval) }
            }
            try socket.setBlocking()
            return try SRTBridge.start(socket)
        } catch {
            socket.close()
            throw error
        }
    }

    /// How often a connecting socket is looked at: its handshakes leave every 250 ms.
    static let pollInterval = Duration.milliseconds(20)
}

/// One SRT socket, closed once whichever of its users closes it first.
final class SRTSocket: Sendable {
    let id: SRTSOCKET
    private let closed = Mutex(false)

    /// A rendezvous socket in file mode over a UDP socket bound to `localPort`.
    init(localPort: Int, remote: SocketAddress, patience: Duration) throws(StunError) {
        id = srt_create_socket()
        guard id != SRT_INVALID_SOCK else { throw .network("srt_create_socket: \(Self.lastError)") }
        do {
            try set(SRTO_TRANSTYPE, Int32(bitPattern: SRTT_FILE.rawValue))
            try set(SRTO_RENDEZVOUS, Int32(1))
            try set(SRTO_RCVSYN, 0)
            // libsrt multiplies a rendezvous's connect timeout by ten; the caller's deadline
            // closes the socket at `patience` in any case.
            try set(SRTO_CONNTIMEO, Int32(clamping: patience.components.seconds * 100 + 1))
            let udp = try Self.udpSocket(port: localPort, family: remote.protocol)
            guard srt_bind_acquire(id, udp) == 0 else {
                let reason = Self.lastError
                Glibc.close(udp)
                throw StunError.network("srt_bind_acquire on UDP port \(localPort): \(reason)")
            }
        } catch let error as StunError {
            srt_close(id)
            throw error
        } catch {
            srt_close(id)
            throw .network("\(error)")
        }
    }

    private func set(_ option: SRT_SOCKOPT, _ value: Int32) throws(StunError) {
        var value = value
        guard srt_setsockflag(id, option, &value, Int32(MemoryLayout<Int32>.size)) == 0 else {
            throw .network("srt_setsockflag(\(option.rawValue)): \(Self.lastError)")
        }
    }

    /// A blocking UDP socket bound to `port` (the port STUN mapped; `SO_REUSEADDR` as STUN had
    /// it), for libsrt to take over.
    private static func udpSocket(port: Int, family: NIOBSDSocket.ProtocolFamily) throws(StunError) -> CInt {
        let fd = socket(family == .inet6 ? AF_INET6 : AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .network("socket(UDP): \(String(cString: strerror(errno)))") }
        var one: Int32 = 1
        guard setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size)) == 0,
            setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, socklen_t(MemoryLayout<Int32>.size)) == 0
        else {
            let reason = String(cString: strerror(errno))
            Glibc.close(fd)
            throw .network("setsockopt(SO_REUSEADDR, SO_REUSEPORT) on UDP: \(reason)")
        }
        do {
            let address = try StunProbe.anyAddress(family: family, port: port)
            let status = address.withSockAddr { pointer, length in bind(fd, pointer, socklen_t(length)) }
            guard status == 0 else { throw StunError.network("binding UDP port \(port): \(String(cString: strerror(errno)))") }
        } catch {
            Glibc.close(fd)
            throw error as? StunError ?? .network("\(error)")
        }
        return fd
    }

    /// Starts the rendezvous without waiting for it (the socket is non-blocking until
    /// ``setBlocking()``).
    func startConnecting(to remote: SocketAddress) throws(StunError) {
        let status = remote.withSockAddr { pointer, length in srt_connect(id, pointer, Int32(length)) }
        guard status != SRT_ERROR else { throw .network("SRT rendezvous with \(remote): \(Self.lastError)") }
    }

    /// Whether the rendezvous is still under way; throws when it failed.
    func isConnecting() throws(StunError) -> Bool {
        let state = srt_getsockstate(id)
        if state == SRTS_CONNECTED { return false }
        if state == SRTS_CONNECTING || state == SRTS_OPENED || state == SRTS_INIT { return true }
        throw .network("SRT rendezvous failed: \(String(cString: srt_rejectreason_str(srt_getrejectreason(id))))")
    }

    /// Blocking sends and receives, for the bridge's threads, once connected.
    func setBlocking() throws(StunError) {
        try set(SRTO_RCVSYN, 1)
        try set(SRTO_SNDSYN, 1)
    }

    func close() {
        let first = closed.withLock { closed in
            defer { closed = true }
            return !closed
        }
        if first { srt_close(id) }
    }

    /// libsrt's last error on this thread.
    static var lastError: String { String(cString: srt_getlasterror_str()) }
}
