#if canImport(Glibc)
import Glibc
#endif

import NIOCore

/// How the daemon names its peer listeners: "ADDRESS:PORT", "[ADDRESS]:PORT", or the path of a
/// Unix socket.
enum PeerListener {
    static func describe(_ address: SocketAddress) -> String {
        guard let ip = address.ipAddress, let port = address.port else { return "\(address)" }
        return ip.contains(":") ? "[\(ip)]:\(port)" : "\(ip):\(port)"
    }

    /// The local address of a socket descriptor.
    static func localAddress(of fd: Int32) -> String? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let result = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard result == 0 else { return nil }
        switch Int32(storage.ss_family) {
        case AF_INET, AF_INET6:
            // getnameinfo reads the address and port out of either family's struct (numerically).
            var host = [CChar](repeating: 0, count: Int(NI_MAXHOST))
            var service = [CChar](repeating: 0, count: Int(NI_MAXSERV))
            let status = withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    getnameinfo($0, length, &host, socklen_t(host.count), &service, socklen_t(service.count), NI_NUMERICHOST | NI_NUMERICSERV)
                }
            }
            guard status == 0 else { return nil }
            let address = Self.string(host)
            return (Int32(storage.ss_family) == AF_INET6 ? "[\(address)]" : address) + ":" + Self.string(service)
        case AF_UNIX:
            return withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr_un.self, capacity: 1) { address in
                    withUnsafeBytes(of: address.pointee.sun_path) { bytes in
                        let path = bytes.prefix { $0 != 0 }
                        return path.isEmpty ? nil : String(decoding: path, as: UTF8.self)
                    }
                }
            }
        default:
            return nil
        }
    }

    private static func string(_ characters: [CChar]) -> String {
        String(decoding: characters.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
