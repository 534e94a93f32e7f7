public import NIOCore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The TCP congestion control of every peer connection, accepted, connected or relayed.
///
/// Kernel TCP with BBR keeps a long, lossy path full where the usual default (CUBIC) collapses at
/// the first losses: 0.6 MB/s against 23-30 on 50 ms with 0.5 % loss (docs/systemd.md). So each
/// peer socket asks for an algorithm of its own (`TCP_CONGESTION`), whatever the system default.
/// The setting is the process's (`CongestionControl=`); the daemon checks it once at start with
/// ``unavailability(of:)`` and clears it if the kernel refuses, so a connection never fails for it.
public enum PeerTransport {
    /// The default: BBR.
    public static let defaultCongestionControl = "bbr"

    private static let algorithm = Mutex<String?>(defaultCongestionControl)

    /// The algorithm peer connections ask for; nil: the system default.
    public static var congestionControl: String? {
        get { algorithm.withLock { $0 } }
        set { algorithm.withLock { $0 = newValue } }
    }

    /// `TCP_CONGESTION`'s value: the name, NUL-padded to `TCP_CA_NAME_MAX` (16) bytes.
    typealias AlgorithmName = (
        UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8
    )

    /// Whether `name` can be a `TCP_CONGESTION` value: 1 to 15 bytes of `[a-z0-9_]`.
    public static func isValidName(_ name: String) -> Bool {
        (1...15).contains(name.utf8.count) && name.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5F }
    }

    static func encode(_ name: String) -> AlgorithmName? {
        guard isValidName(name) else { return nil }
        var value: AlgorithmName = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &value) { bytes in
            for (index, byte) in name.utf8.enumerated() { bytes[index] = byte }
        }
        return value
    }

    static func decode(_ value: AlgorithmName) -> String {
        withUnsafeBytes(of: value) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }

    /// Asks for ``congestionControl`` on a new connection, on its event loop, before any data
    /// flows. A refusal leaves the system default: the start-up check said so already.
    static func tune(_ channel: any Channel) {
        guard let name = congestionControl, let value = encode(name), let provider = channel as? any SocketOptionProvider else { return }
        provider.unsafeSetSocketOption(level: .tcp, name: NIOBSDSocket.Option(rawValue: TCP_CONGESTION), value: value)
            .whenComplete { _ in }
    }

    /// Why this process cannot use `name` on its TCP sockets (the kernel's answer on a scratch
    /// socket: no such module loaded, or not in `net.ipv4.tcp_allowed_congestion_control` for a
    /// process without CAP_NET_ADMIN); nil when it can.
    public static func unavailability(of name: String) -> String? {
        guard var value = encode(name) else { return "\"\(name)\" is not an algorithm name" }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return "socket: \(String(cString: strerror(errno)))" }
        defer { close(fd) }
        let result = withUnsafeBytes(of: &value) { setsockopt(fd, Int32(IPPROTO_TCP), TCP_CONGESTION, $0.baseAddress, socklen_t($0.count)) }
        guard result == 0 else { return String(cString: strerror(errno)) }
        return nil
    }

    /// The algorithm a connection uses (for tests and the log).
    public static func congestionControl(of channel: any Channel) async throws -> String? {
        guard let provider = channel as? any SocketOptionProvider else { return nil }
        let value: AlgorithmName = try await provider.unsafeGetSocketOption(
            level: .tcp, name: NIOBSDSocket.Option(rawValue: TCP_CONGESTION)
        ).get()
        return decode(value)
    }
}
