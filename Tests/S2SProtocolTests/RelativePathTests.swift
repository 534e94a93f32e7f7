import Testing
@testable import S2SProtocol

/// Path validation: everything that could leave the endpoint or confuse a terminal is refused.
struct RelativePathTests {
    @Test(arguments: [
        "a", "a/b", "a/b/c.txt", "...", ".hidden", "a..b", "..a", "a.", "with space", "back\\slash",
        "é/日本/😀", "x/.s2s-partial", ".s2s-partialx", ".s2s-partia", "a/b/c/d/e/f/g", "\u{A0}nbsp",
    ])
    func accepted(_ string: String) throws {
        let path = try RelativePath(string)
        #expect(path.string == string)
        #expect(try RelativePath(validating: Array(string.utf8)) == path)
        #expect(path.components.joined(separator: "/") == string)
    }

    @Test func hostile() {
        let cases: [(String, ProtocolError)] = [
            ("", .emptyPath),
            ("../x", .dotComponent), ("x/..", .dotComponent), ("a/../b", .dotComponent),
            ("./x", .dotComponent), (".", .dotComponent), ("..", .dotComponent), ("a/./b", .dotComponent),
            ("/abs", .absolutePath), ("/", .absolutePath), ("//x", .absolutePath),
            ("a//b", .emptyComponent), ("a/", .emptyComponent),
            ("a\0b", .controlCharacter(0)), ("\0", .controlCharacter(0)), ("a\nb", .controlCharacter(0x0A)),
            ("tab\t", .controlCharacter(0x09)), ("esc\u{1B}[31m", .controlCharacter(0x1B)),
            ("del\u{7F}", .controlCharacter(0x7F)), ("csi\u{9B}31m", .controlCharacter(0x9B)),
            ("c1\u{80}", .controlCharacter(0x80)), ("c1\u{9F}", .controlCharacter(0x9F)),
            (".s2s-partial", .reservedName), (".s2s-partial/x", .reservedName),
        ]
        for (string, error) in cases {
            #expect(throws: error, "\(string.debugDescription)") { try RelativePath(string) }
            #expect(throws: error, "\(string.debugDescription) as bytes") {
                try RelativePath(validating: Array(string.utf8))
            }
        }
    }

    @Test func invalidUTF8() {
        for bytes: [UInt8] in [
            [0xFF], [0x61, 0x80], [0xC0, 0xAF], [0xC1, 0x81], [0xE0, 0x80, 0xAF], [0xED, 0xA0, 0x80],
            [0xE2, 0x82], [0xF4, 0x90, 0x80, 0x80], [0xF8, 0x88, 0x80, 0x80, 0x80], [0x61, 0x2F, 0xFE],
        ] {
            #expect(throws: ProtocolError.invalidUTF8, "\(bytes)") { try RelativePath(validating: bytes) }
        }
    }

    @Test func lengthBounds() throws {
        // 254 + 15 x 255 bytes and 15 separators = 4094; "/y" makes 4096, "/yz" 4097.
        let component = String(repeating: "x", count: 255)
        let base = ([String(repeating: "x", count: 254)] + Array(repeating: component, count: 15)).joined(separator: "/")
        #expect(base.utf8.count == 4094)
        #expect(try RelativePath(base + "/y").byteCount == 4096)
        #expect(try RelativePath(validating: Array((base + "/y").utf8)).byteCount == 4096)
        #expect(throws: ProtocolError.pathTooLong(4097)) { try RelativePath(base + "/yz") }
        #expect(throws: ProtocolError.pathTooLong(4097)) { try RelativePath(validating: Array((base + "/yz").utf8)) }
        #expect(throws: ProtocolError.pathTooLong(5000)) { try RelativePath(String(repeating: "a/", count: 2500)) }

        #expect(try RelativePath(component).byteCount == 255)
        #expect(throws: ProtocolError.componentTooLong(256)) { try RelativePath(component + "x") }
        #expect(throws: ProtocolError.componentTooLong(256)) { try RelativePath("a/" + component + "x" + "/b") }
        // Multi-byte characters count in bytes: 85 three-byte characters = 255 bytes, 86 = 258.
        #expect(try RelativePath(String(repeating: "日", count: 85)).byteCount == 255)
        #expect(throws: ProtocolError.componentTooLong(258)) { try RelativePath(String(repeating: "日", count: 86)) }
    }

    @Test func byteWiseEquality() throws {
        let composed = try RelativePath("caf\u{E9}")
        let decomposed = try RelativePath("cafe\u{301}")
        #expect(composed.string == decomposed.string)  // Swift's String equality merges them...
        #expect(composed != decomposed)  // ...a file system does not, and neither do we.
        #expect(Set([composed, decomposed]).count == 2)
    }

    @Test func parts() throws {
        let path = try RelativePath("a/bb/ccc")
        #expect(path.components == ["a", "bb", "ccc"])
        #expect(path.lastComponent == "ccc")
        #expect(path.parent == (try RelativePath("a/bb")))
        #expect(path.parent?.parent == (try RelativePath("a")))
        #expect(path.parent?.parent?.parent == nil)
        #expect((try RelativePath("top")).lastComponent == "top")
    }
}
