public import NIOCore
public import NIOPosix
import S2SProtocol

/// The `socket` phase of ``CPUAccount``: the whole CPU time of the event loops' threads. The socket
/// reads and writes happen inside SwiftNIO on those threads, where no call of ours wraps them, and
/// those threads do little else (the channel handlers, and timers that write a keepalive).
public enum SocketPhase {
    /// Counts every thread of `group` toward ``CPUPhase/socket`` from now on; once, at start.
    public static func count(_ group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws {
        for loop in group.makeIterator() {
            try await loop.submit { try CPUAccount.countCallingThread(toward: .socket) }.get()
        }
    }
}
