/// Bech32m (BIP-350): a case-insensitive base-32 text encoding whose BCH checksum detects any
/// error in up to four characters, so a mistyped ID is refused instead of reaching someone else.
public enum Bech32m {
    static let charset = Array("qpzry9x8gf2tvdw0s3jn54khce6mua7l".utf8)
    static let checksumConstant: UInt32 = 0x2bc8_30a3
    static let generator: [UInt32] = [0x3b6a_57b2, 0x2650_8e6d, 0x1ea1_19fa, 0x3d42_33dd, 0x2a14_62b3]

    static let reverseCharset: [Int8] = {
        var table = [Int8](repeating: -1, count: 128)
        for (index, byte) in charset.enumerated() { table[Int(byte)] = Int8(index) }
        return table
    }()

    public enum DecodingError: Error, Equatable, Sendable {
        case tooLong, mixedCase, missingSeparator, invalidCharacter(Character), tooShort, checksumMismatch, badPadding
    }

    /// Encodes `data` (8-bit bytes) under the human-readable part `hrp`, in lower case.
    public static func encode(hrp: String, data: [UInt8]) -> String {
        let values = convertBits(data, from: 8, to: 5, pad: true) ?? []
        let checksum = makeChecksum(hrp: Array(hrp.utf8), values: values)
        return hrp + "1" + String(decoding: (values + checksum).map { charset[Int($0)] }, as: UTF8.self)
    }

    /// Decodes a Bech32m string into its human-readable part (lower case) and data bytes.
    public static func decode(_ text: String) throws(DecodingError) -> (hrp: String, data: [UInt8]) {
        let bytes = Array(text.utf8)
        guard bytes.count <= 90 else { throw .tooLong }
        let hasLower = bytes.contains { $0 >= 0x61 && $0 <= 0x7A }
        let hasUpper = bytes.contains { $0 >= 0x41 && $0 <= 0x5A }
        guard !(hasLower && hasUpper) else { throw .mixedCase }
        let lowered = bytes.map { ($0 >= 0x41 && $0 <= 0x5A) ? $0 + 0x20 : $0 }
        guard let separator = lowered.lastIndex(of: UInt8(ascii: "1")), separator >= 1 else { throw .missingSeparator }
        let hrp = Array(lowered[..<separator])
        for byte in hrp where byte < 33 || byte > 126 {
            throw .invalidCharacter(Character(Unicode.Scalar(byte)))
        }
        var values: [UInt8] = []
        for byte in lowered[(separator + 1)...] {
            guard byte < 128, reverseCharset[Int(byte)] >= 0 else {
                throw .invalidCharacter(Character(Unicode.Scalar(byte)))
            }
            values.append(UInt8(reverseCharset[Int(byte)]))
        }
        guard values.count >= 6 else { throw .tooShort }
        guard polymod(expand(hrp) + values) == checksumConstant else { throw .checksumMismatch }
        guard let data = convertBits(Array(values.dropLast(6)), from: 5, to: 8, pad: false) else { throw .badPadding }
        return (String(decoding: hrp, as: UTF8.self), data)
    }

    static func polymod(_ values: [UInt8]) -> UInt32 {
        var checksum: UInt32 = 1
        for value in values {
            let top = checksum >> 25
            checksum = (checksum & 0x1ff_ffff) << 5 ^ UInt32(value)
            for index in 0..<5 where (top >> UInt32(index)) & 1 == 1 {
                checksum ^= generator[index]
            }
        }
        return checksum
    }

    static func expand(_ hrp: [UInt8]) -> [UInt8] {
        hrp.map { $0 >> 5 } + [0] + hrp.map { $0 & 31 }
    }

    static func makeChecksum(hrp: [UInt8], values: [UInt8]) -> [UInt8] {
        let remainder = polymod(expand(hrp) + values + [0, 0, 0, 0, 0, 0]) ^ checksumConstant
        return (0..<6).map { UInt8((remainder >> UInt32(5 * (5 - $0))) & 31) }
    }

    /// Regroups bits; without padding, leftover bits must be fewer than `from` and all zero.
    static func convertBits(_ data: [UInt8], from: Int, to: Int, pad: Bool) -> [UInt8]? {
        var accumulator = 0
        var bits = 0
        var result: [UInt8] = []
        let maxValue = (1 << to) - 1
        for value in data {
            guard Int(value) >> from == 0 else { return nil }
            accumulator = (accumulator << from) | Int(value)
            bits += from
            while bits >= to {
                bits -= to
                result.append(UInt8((accumulator >> bits) & maxValue))
            }
        }
        if pad {
            if bits > 0 { result.append(UInt8((accumulator << (to - bits)) & maxValue)) }
        } else if bits >= from || ((accumulator << (to - bits)) & maxValue) != 0 {
            return nil
        }
        return result
    }
}
