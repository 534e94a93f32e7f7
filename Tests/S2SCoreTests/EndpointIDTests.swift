import Testing
@testable import S2SCore

struct EndpointIDTests {
    /// The vectors of docs/endpoint-id.md, computed there by an independent implementation.
    static let vectors: [([UInt8], String)] = [
        ([UInt8](repeating: 0, count: 32), "s2s1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqjgacll"),
        (Array(0..<32), "s2s1qqqsyqcyq5rqwzqfpg9scrgwpugpzysnzs23v9ccrydpk8qarc0smuk6lx"),
        ([UInt8](repeating: 0xFF, count: 32), "s2s1lllllllllllllllllllllllllllllllllllllllllllllllllllssk7fkg"),
        (hex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"),
         "s2s1s5s0qzvfxzn4gayt0hwtg0hhtgxm7wsdycup4a8t5j5ca25mfe4qd9kala"),
    ]

    static func hex(_ text: String) -> [UInt8] {
        var bytes: [UInt8] = []
        var index = text.startIndex
        while index < text.endIndex {
            let next = text.index(index, offsetBy: 2)
            bytes.append(UInt8(text[index..<next], radix: 16) ?? 0)
            index = next
        }
        return bytes
    }

    @Test func vectorsEncodeAndDecode() throws {
        for (key, text) in Self.vectors {
            let id = try #require(EndpointID(publicKey: key))
            #expect(id.text == text)
            #expect(id.text.utf8.count == EndpointID.textLength)
            #expect(try EndpointID(parsing: text) == id)
            #expect(try EndpointID(parsing: text.uppercased()) == id)
            #expect(try EndpointID(parsing: "  \(text)\n") == id)
        }
    }

    /// Every single-character substitution, and every swap of neighbours, is caught.
    @Test func everyTypoIsCaught() throws {
        let text = Self.vectors[3].1
        let alphabet = Array("qpzry9x8gf2tvdw0s3jn54khce6mua7l")
        let characters = Array(text)
        for position in 4..<characters.count {
            for replacement in alphabet where replacement != characters[position] {
                var typo = characters
                typo[position] = replacement
                #expect(throws: EndpointIDError.self) { try EndpointID(parsing: String(typo)) }
            }
            if position + 1 < characters.count, characters[position] != characters[position + 1] {
                var swapped = characters
                swapped.swapAt(position, position + 1)
                #expect(throws: EndpointIDError.self) { try EndpointID(parsing: String(swapped)) }
            }
        }
    }

    @Test func malformedIDsSayWhy() {
        let valid = Self.vectors[3].1
        #expect(throws: EndpointIDError.wrongLength(61)) { try EndpointID(parsing: String(valid.dropLast())) }
        #expect(throws: EndpointIDError.wrongPrefix) { try EndpointID(parsing: Bech32m.encode(hrp: "x2s", data: Self.vectors[3].0)) }
        #expect(throws: EndpointIDError.malformed(.mixedCase)) { try EndpointID(parsing: "S" + valid.dropFirst()) }
        #expect(throws: EndpointIDError.wrongLength(0)) { try EndpointID(parsing: "") }
        #expect(throws: EndpointIDError.self) { try EndpointID(parsing: String(repeating: "q", count: 100_000)) }
        #expect(throws: EndpointIDError.self) { try EndpointID(parsing: "s2s1" + String(repeating: "\u{0}", count: 58)) }
        #expect(EndpointIDError.malformed(.checksumMismatch).description.contains("mistyped"))
        #expect(EndpointID(publicKey: [1, 2, 3]) == nil)
    }
}
