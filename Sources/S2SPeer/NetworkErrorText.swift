package import NIOCore
import NIOPosix
#if canImport(Glibc)
import Glibc
#endif

/// Socket errors and addresses as a person reads them: "Connection refused", not NIO's
/// "connection reset (error set): Connection refused (errno: 111)", which repeats the call's
/// internal name and the number, nor "I/O on closed channel".
package enum NetworkErrorText {
    package static func describe(_ error: any Error) -> String {
        if let error = error as? IOError {
            return String(cString: strerror(error.errnoCode))
        }
        if let error = error as? ChannelError {
            switch error {
            case .ioOnClosedChannel, .alreadyClosed, .outputClosed, .inputClosed, .eof: return "the connection was closed"
            case .connectTimeout: return "the connection timed out"
            default: break
            }
        }
        if let error = error as? NIOConnectionError, let first = error.connectionErrors.first {
            return describe(first.error)
        }
        return "\(error)"
    }

    /// "192.0.2.1:7730", "[2001:db8::1]:7730" (NIO's own form is "[IPv4]192.0.2.1/192.0.2.1:7730").
    package static func describe(_ address: SocketAddress) -> String {
        guard let ip = address.ipAddress, let port = address.port else { return "\(address)" }
        return address.protocol == .inet6 ? "[\(ip)]:\(port)" : "\(ip):\(port)"
    }
}
