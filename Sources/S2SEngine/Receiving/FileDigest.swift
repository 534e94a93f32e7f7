import S2SProtocol
import CXXHash
import Crypto

/// The whole-file digest of DESIGN.md, item 7, computed while a file arrives.
///
/// Streaming: `update` with each piece in order, `finalize` for the digest of everything so far
/// (it does not end the stream). XXH3-128 (seed 0) comes out in its canonical form, high 64 bits
/// big-endian then low 64 bits big-endian, as `XXH128_canonicalFromHash` writes it and
/// docs/protocol.md ("Integrity") requires. Non-copyable because it owns libxxhash's state.
struct FileDigest: ~Copyable {
    /// The algorithm, numbered as OFFER_BEGIN's digest byte (`DigestAlgorithm` in S2SProtocol).
    enum Algorithm: UInt8, Sendable, Hashable, CaseIterable {
        case xxh3_128 = 1
        case sha256 = 2

        /// The digest length in bytes, as FILE_END carries it.
        var digestLength: Int {
            switch self {
            case .xxh3_128: 16
            case .sha256: 32
            }
        }
    }

    let algorithm: Algorithm
    /// libxxhash's streaming state (allocated by the library, suitably aligned), for XXH3-128.
    private let xxh3: OpaquePointer?
    private var sha256: SHA256

    init(_ algorithm: Algorithm) throws(ReceiveError) {
        self.algorithm = algorithm
        sha256 = SHA256()
        switch algorithm {
        case .xxh3_128:
            guard let state = XXH3_createState() else { throw ReceiveError(.writeFailed, "cannot allocate an XXH3 state") }
            guard XXH3_128bits_reset(state) == XXH_OK else {
                XXH3_freeState(state)
                throw ReceiveError(.writeFailed, "cannot initialise an XXH3 state")
            }
            xxh3 = state
        case .sha256:
            xxh3 = nil
        }
    }

    deinit {
        if let xxh3 { XXH3_freeState(xxh3) }
    }

    /// Adds the next bytes of the file.
    mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard !bytes.isEmpty else { return }
        CPUAccount.measure(.digest, bytes: bytes.count) {
            if let xxh3 {
                // Only fails for a NULL state, which `init` rules out.
                _ = XXH3_128bits_update(xxh3, bytes.baseAddress, bytes.count)
            } else {
                sha256.update(bufferPointer: bytes)
            }
        }
    }

    /// Adds the next bytes of the file.
    mutating func update(_ bytes: [UInt8]) {
        bytes.withUnsafeBytes { update($0) }
    }

    /// The digest of everything added so far: 16 bytes for XXH3-128, 32 for SHA-256.
    func finalize() -> [UInt8] {
        if let xxh3 {
            var canonical = XXH128_canonical_t()
            XXH128_canonicalFromHash(&canonical, XXH3_128bits_digest(xxh3))
            return withUnsafeBytes(of: canonical.digest) { Array($0) }
        }
        return Array(sha256.finalize())
    }

    /// Lowercase hexadecimal, for showing a digest with the finished transfer.
    static func hex(_ digest: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var text = [UInt8]()
        text.reserveCapacity(digest.count * 2)
        for byte in digest {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }
}
