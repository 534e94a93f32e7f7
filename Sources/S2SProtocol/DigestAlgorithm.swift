/// The whole-file digest an offer uses for every file (DESIGN.md, item 7), as the u8 of OFFER_BEGIN.
public enum DigestAlgorithm: UInt8, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// XXH3-128 with seed 0, in XXH128's canonical form (high 64 bits big-endian, then low 64 bits
    /// big-endian, as `XXH128_canonicalFromHash` writes it). The default: it costs almost nothing.
    case xxh3_128 = 1
    /// SHA-256 (FIPS 180-4), when the sender asks for it (`--checksum sha256`).
    case sha256 = 2

    /// The digest length in bytes, which FILE_END must match exactly.
    public var digestLength: Int {
        switch self {
        case .xxh3_128: 16
        case .sha256: 32
        }
    }

    public var description: String {
        switch self {
        case .xxh3_128: "xxh3-128"
        case .sha256: "sha256"
        }
    }
}
