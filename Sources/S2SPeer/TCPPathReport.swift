import NIOCore
#if canImport(Glibc)
import Glibc
#endif

/// What the kernel knows of a connection's path and what held it back (`TCP_INFO`): whether the
/// socket buffers' maxima (`net.ipv4.tcp_wmem` here, `tcp_rmem` at the receiver) limited a
/// transfer on a long link, which only the kernel can tell (docs/systemd.md, "Long paths").
///
/// s2s leaves the buffers to the kernel's autotuning, which sizes them to the bandwidth-delay
/// product up to those maxima: setting `SO_SNDBUF` or `SO_RCVBUF` would turn autotuning off and
/// cap the buffer at `net.core.wmem_max` (208 KiB by default), far below what a long link needs.
public struct TCPPathReport: Sendable, Equatable {
    /// Smoothed round trip, in microseconds.
    public var roundTrip: UInt32
    /// Time spent sending data, in microseconds.
    public var busyTime: UInt64
    /// Of `busyTime`: limited by the receiver's advertised window.
    public var receiveWindowLimited: UInt64
    /// Of `busyTime`: limited by this side's send buffer.
    public var sendBufferLimited: UInt64

    public init(roundTrip: UInt32, busyTime: UInt64, receiveWindowLimited: UInt64, sendBufferLimited: UInt64) {
        self.roundTrip = roundTrip
        self.busyTime = busyTime
        self.receiveWindowLimited = receiveWindowLimited
        self.sendBufferLimited = sendBufferLimited
    }

    /// What held a transfer back, as a share of its sending time in percent.
    public enum Limitation: Sendable, Equatable {
        /// This host's send buffer maximum (`net.ipv4.tcp_wmem`).
        case sendBuffer(percent: Int)
        /// The receiver's window: its receive buffer maximum (`net.ipv4.tcp_rmem`), or a receiver
        /// that reads slower than the link.
        case receiveWindow(percent: Int)
    }

    /// Below this round trip the link is local and the maxima never matter (5 ms).
    public static let longLink: UInt32 = 5_000
    /// A limitation counts from this share of the sending time.
    public static let significantPercent = 25
    /// Transfers that sent for less than this (1 s) are too short to tell.
    public static let minimumBusyTime: UInt64 = 1_000_000

    /// The larger of the two limitations when it is significant on a long link; nil otherwise.
    public var limitation: Limitation? {
        guard roundTrip >= Self.longLink, busyTime >= Self.minimumBusyTime else { return nil }
        let send = Int(min(sendBufferLimited, busyTime) * 100 / busyTime)
        let window = Int(min(receiveWindowLimited, busyTime) * 100 / busyTime)
        guard max(send, window) >= Self.significantPercent else { return nil }
        return send >= window ? .sendBuffer(percent: send) : .receiveWindow(percent: window)
    }

    /// The reports of a striped session's connections as one: the first's round trip, and the
    /// times summed, so that a limitation is its share of all their sending time. Nil for none.
    public static func combined(_ reports: [TCPPathReport]) -> TCPPathReport? {
        guard let first = reports.first else { return nil }
        return reports.dropFirst().reduce(into: first) { total, report in
            total.busyTime += report.busyTime
            total.receiveWindowLimited += report.receiveWindowLimited
            total.sendBufferLimited += report.sendBufferLimited
        }
    }

    /// Linux's `struct tcp_info` (<linux/tcp.h>) up to `tcpi_sndbuf_limited` (Linux 4.10): glibc's
    /// copy of the struct stops long before, so the fields are read at their offsets in the
    /// kernel's ABI, which only ever grows at the end. An older kernel leaves the later ones 0.
    static let infoSize = 232
    static let roundTripOffset = 68
    static let busyTimeOffset = 168
    static let receiveWindowLimitedOffset = 176
    static let sendBufferLimitedOffset = 184

    /// The report from `TCP_INFO`'s bytes.
    init(info bytes: UnsafeRawBufferPointer) {
        func field<T: FixedWidthInteger>(_ offset: Int, _: T.Type) -> T {
            guard offset + MemoryLayout<T>.size <= bytes.count else { return 0 }
            return T(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: T.self))
        }
        self.init(
            roundTrip: field(Self.roundTripOffset, UInt32.self), busyTime: field(Self.busyTimeOffset, UInt64.self),
            receiveWindowLimited: field(Self.receiveWindowLimitedOffset, UInt64.self),
            sendBufferLimited: field(Self.sendBufferLimitedOffset, UInt64.self))
    }

    /// `TCP_INFO`'s buffer: 232 bytes, 8-aligned.
    typealias InfoBytes = (
        UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
        UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
        UInt64
    )

    /// The report of a TCP connection; nil for any other (a test's embedded channel).
    static func read(_ channel: any Channel) async -> TCPPathReport? {
        guard let provider = channel as? any SocketOptionProvider else { return nil }
        guard
            let value: InfoBytes = try? await provider.unsafeGetSocketOption(
                level: .tcp, name: NIOBSDSocket.Option(rawValue: TCP_INFO)
            ).get()
        else { return nil }
        return withUnsafeBytes(of: value) { TCPPathReport(info: $0) }
    }
}
