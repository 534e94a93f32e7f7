/// A path beneath the endpoint directory, checked again on the receiving side.
///
/// Offered paths arrive as `RelativePath` (S2SProtocol), already validated by the decoder. This
/// layer checks the rules that keep resolution inside the endpoint once more, because a mistake
/// anywhere upstream must not become a write outside it: no empty, `.` or `..` component, no `/`
/// at either end, no NUL or other control byte, components of at most 255 bytes, and not the
/// partial area. The kernel is the last line (`openat2` with `RESOLVE_BENEATH` and
/// `RESOLVE_NO_SYMLINKS`); these checks make its refusals the exception.
struct ReceivePath: Sendable, Hashable, CustomStringConvertible {
    /// The components, in order; never empty.
    let components: [String]

    static let maximumComponentLength = 255
    static let maximumLength = 4096

    /// Byte for byte, as Linux compares names: `String`'s own equality would make "café" in NFC
    /// and in NFD (two directories) one key.
    static func == (lhs: ReceivePath, rhs: ReceivePath) -> Bool {
        lhs.components.count == rhs.components.count
            && zip(lhs.components, rhs.components).allSatisfy { $0.utf8.elementsEqual($1.utf8) }
    }

    func hash(into hasher: inout Hasher) {
        for component in components {
            hasher.combine(component.utf8.count)
            for byte in component.utf8 { hasher.combine(byte) }
        }
    }

    /// Checks `string`, an offered path such as `RelativePath.string` (``check(offered:)``).
    init(_ string: String) throws(ReceiveError) {
        try Self.check(offered: string)
        self.init(checked: string.split(separator: "/", omittingEmptySubsequences: false).map(String.init))
    }

    /// Checks an offered path without keeping it, and with no string made per component: how
    /// ``init(_:)`` checks, and how the files of an offer are checked up front (their names are
    /// checked again as they are published). The same rules as ``init(components:)``, in the same
    /// order.
    static func check(offered string: String) throws(ReceiveError) {
        guard !string.isEmpty, string.utf8.count <= Self.maximumLength else {
            throw ReceiveError(.invalidPath, "path of \(string.utf8.count) bytes is empty or too long")
        }
        var namesTheArea: Bool?
        for component in string.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false) {
            try check(component: component)
            if namesTheArea == nil { namesTheArea = component.elementsEqual(PartialArea.areaName.utf8) }
        }
        guard namesTheArea != true else { throw ReceiveError(.invalidPath, "the path names the partial area") }
    }

    /// Checks each of `components`.
    init(components: [String]) throws(ReceiveError) {
        guard !components.isEmpty else { throw ReceiveError(.invalidPath, "empty path") }
        for component in components {
            try Self.check(component: component)
        }
        guard components[0] != PartialArea.areaName else {
            throw ReceiveError(.invalidPath, "the path names the partial area")
        }
        self.components = components
    }

    /// The last component.
    var name: String { components[components.count - 1] }

    /// The directory holding the entry, or `nil` at the top of the endpoint.
    var parent: ReceivePath? {
        components.count > 1 ? ReceivePath(checked: Array(components.dropLast())) : nil
    }

    /// `name` in the directory `self`.
    func appending(_ name: String) throws(ReceiveError) -> ReceivePath {
        try Self.check(component: name)
        return ReceivePath(checked: components + [name])
    }

    /// `name` in `directory`, or at the top of the endpoint for `nil`.
    static func child(_ name: String, of directory: ReceivePath?) throws(ReceiveError) -> ReceivePath {
        if let directory { return try directory.appending(name) }
        return try ReceivePath(components: [name])
    }

    /// The path relative to the endpoint, for `openat2` below the endpoint's descriptor (which
    /// resolves it component by component, beneath, without symbolic links) and for messages.
    var description: String { components.joined(separator: "/") }

    private init(checked components: [String]) {
        self.components = components
    }

    /// One file name: 1 to 255 bytes, not `.` or `..`, no `/`, no byte below 0x20 and no 0x7F.
    static func check(component: String) throws(ReceiveError) {
        try check(component: component.utf8[...])
    }

    /// ``check(component:)`` on a name's UTF-8 bytes.
    private static func check<Bytes: Collection<UInt8>>(component bytes: Bytes) throws(ReceiveError) {
        guard !bytes.isEmpty, bytes.count <= maximumComponentLength else {
            throw ReceiveError(.invalidPath, "path component of \(bytes.count) bytes")
        }
        guard !bytes.elementsEqual(".".utf8), !bytes.elementsEqual("..".utf8) else {
            throw ReceiveError(.invalidPath, "path component \"\(String(decoding: bytes, as: UTF8.self))\"")
        }
        for byte in bytes where byte == UInt8(ascii: "/") || byte < 0x20 || byte == 0x7F {
            throw ReceiveError(.invalidPath, "path component with byte 0x\(String(byte, radix: 16))")
        }
    }
}
