import Crypto

/// The 16 random bytes that name one transfer (OFFER_BEGIN). A new transfer gets a fresh token;
/// an offer that repeats a token is a retry, which the receiver resumes from its verified data
/// (docs/protocol.md, "Resume"). Whoever holds a token can continue that transfer, so it is kept as
/// secret as the data: it never appears in clear on disk or in logs (``partialAreaName`` hashes it).
public struct TransferToken: Sendable, Hashable, CustomStringConvertible {
    /// The token length in bytes.
    public static let length = 16

    /// Exactly ``length`` bytes.
    public let bytes: [UInt8]

    /// A token from `bytes`, which must be ``length`` bytes long.
    public init(bytes: some Collection<UInt8>) throws(ProtocolError) {
        guard bytes.count == Self.length else {
            throw .badLength(what: "transfer token", expected: Self.length, actual: bytes.count)
        }
        self.bytes = Array(bytes)
    }

    /// A fresh token from the system's cryptographic random source.
    public static func random() -> TransferToken {
        var generator = SystemRandomNumberGenerator()
        return TransferToken(unchecked: (0..<length).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
    }

    init(unchecked bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// The name of the transfer's directory inside the endpoint's partial area
    /// (`.s2s-partial/<name>/`): the first 16 bytes of SHA-256("s2s/1 partial" ‖ token), as 32
    /// lowercase hexadecimal digits. One-way, so listing the endpoint does not reveal the token.
    public var partialAreaName: String {
        var hasher = SHA256()
        hasher.update(data: Array("s2s/1 partial".utf8))
        hasher.update(data: bytes)
        return hasher.finalize().prefix(16).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }

    /// Not the token itself: only enough of its hash to tell transfers apart in logs.
    public var description: String {
        "token#" + partialAreaName.prefix(8)
    }
}
