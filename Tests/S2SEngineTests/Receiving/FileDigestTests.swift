import Testing
@testable import S2SEngine

/// Digests against values from `xxhsum -H2` (xxhash 0.8.1) and `sha256sum`, over the same bytes.
struct FileDigestTests {
    /// (input, XXH3-128 canonical, SHA-256); `pattern(n)` is bytes i % 251.
    static let known: [(String, [UInt8], String, String)] = [
        ("empty", [], "99aa06d3014798d86001c324468d497f", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("hello", Array("hello".utf8), "b5e9c1ad071b3e7fc779cfaa5e523818", "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"),
        ("300000", pattern(300_000), "b65af738c61b5fc15d12941f4cf541c5", "3c65ea93424a9c362fec0e3a69ea36031e8a358441479dd665cc6110eabe7b08"),
        ("1 MiB", pattern(1 << 20), "53738d98098cabba6e0d7ac36b8c10ff", "631b84027d6b9e52b539c4e8373622d23032dfadc64d60af87339c9037e4f769"),
    ]

    @Test(arguments: 0..<known.count)
    func knownValuesInOneGo(_ index: Int) throws {
        let (_, input, xxh, sha) = Self.known[index]
        var x = try FileDigest(.xxh3_128)
        x.update(input)
        #expect(FileDigest.hex(x.finalize()) == xxh)
        var s = try FileDigest(.sha256)
        s.update(input)
        #expect(FileDigest.hex(s.finalize()) == sha)
    }

    /// Uneven pieces give the same digest as one piece, and `finalize` does not end the stream.
    @Test(arguments: [FileDigest.Algorithm.xxh3_128, .sha256])
    func streamingInPieces(_ algorithm: FileDigest.Algorithm) throws {
        let input = pattern(1 << 20)
        var digest = try FileDigest(algorithm)
        var position = 0
        var step = 1
        while position < input.count {
            let end = min(input.count, position + step)
            digest.update(Array(input[position..<end]))
            if position == 0 { _ = digest.finalize() }
            position = end
            step = step * 3 + 7
        }
        let expected = algorithm == .xxh3_128 ? Self.known[3].2 : Self.known[3].3
        #expect(FileDigest.hex(digest.finalize()) == expected)
        #expect(digest.finalize().count == algorithm.digestLength)
    }
}
