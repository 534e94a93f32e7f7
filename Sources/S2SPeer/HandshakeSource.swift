public import NIOCore

/// The unit a receiver counts unfinished handshakes by: the peer's IPv4 address, or the /64
/// prefix of its IPv6 address (one subscriber's allocation, as OpenSSH's `PerSourceNetBlockSize`
/// assumes by default), so that a host cannot escape the per-source cap by walking its own /64.
/// An IPv4-mapped IPv6 address counts as the IPv4 address. Every Unix-domain peer is one source,
/// and so is every peer whose address is unknown.
public struct HandshakeSource: Sendable, Hashable, CustomStringConvertible {
    /// A family tag followed by the address bytes that count.
    private let key: [UInt8]

    /// The length of the IPv6 prefix that counts as one source.
    public static let ipv6PrefixBytes = 8

    /// The source of a connection from `address`.
    public init(_ address: SocketAddress?) {
        switch address {
        case .v4(let v4):
            key = [4] + Self.bytes(of: v4.address.sin_addr)
        case .v6(let v6):
            let bytes = Self.bytes(of: v6.address.sin6_addr)
            let mappedPrefix: [UInt8] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff]
            if bytes.count == 16, Array(bytes[0..<12]) == mappedPrefix {
                key = [4] + bytes[12..<16]
            } else {
                key = [6] + bytes.prefix(Self.ipv6PrefixBytes)
            }
        case .unixDomainSocket:
            key = [1]
        case nil:
            key = [0]
        }
    }

    private static func bytes<T>(of value: T) -> [UInt8] {
        withUnsafeBytes(of: value) { Array($0) }
    }

    public var description: String {
        switch key.first {
        case 4: key.dropFirst().map(String.init).joined(separator: ".")
        case 6:
            stride(from: 1, to: key.count, by: 2).map { index in
                String(UInt16(key[index]) << 8 | UInt16(key[index + 1]), radix: 16)
            }.joined(separator: ":") + "::/64"
        case 1: "local"
        default: "unknown"
        }
    }
}
