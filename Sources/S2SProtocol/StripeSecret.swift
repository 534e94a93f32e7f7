/// The 16 random bytes a receiver hands its sender in STRIPES, which a further connection presents
/// in JOIN to join that session as a stripe (docs/protocol.md, "Striped sessions"). Fresh for
/// every session, sent only inside it, and forgotten when it ends: knowing the endpoint ID or the
/// transfer token is not enough to join.
public struct StripeSecret: Sendable, Hashable, CustomStringConvertible {
    public static let length = 16

    /// Exactly ``length`` bytes.
    public let bytes: [UInt8]

    init(unchecked bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// A fresh secret from the system's cryptographic random source.
    public static func random() -> StripeSecret {
        var generator = SystemRandomNumberGenerator()
        return StripeSecret(unchecked: (0..<length).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
    }

    /// Never the bytes: the secret must not reach a log.
    public var description: String { "stripe secret" }
}
