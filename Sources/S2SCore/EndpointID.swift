/// The name of an endpoint: its Curve25519 public key, written in Bech32m under the prefix `s2s`.
///
/// The ID is the key, so a sender who has the ID can authenticate the receiver with no other
/// channel, and two endpoints of one user share nothing that links them.
public struct EndpointID: Sendable, Hashable, CustomStringConvertible {
    public static func == (lhs: EndpointID, rhs: EndpointID) -> Bool { lhs.publicKey == rhs.publicKey }
    public func hash(into hasher: inout Hasher) { hasher.combine(publicKey) }

    public static let humanReadablePart = "s2s"
    public static let keyLength = 32
    /// `s2s1` + 52 data characters + 6 checksum characters.
    public static let textLength = 62

    public let publicKey: [UInt8]
    /// The canonical text: lower case, 62 characters. Computed once: lists print many IDs.
    public let text: String

    public init?(publicKey: [UInt8]) {
        guard publicKey.count == Self.keyLength else { return nil }
        self.publicKey = publicKey
        self.text = Bech32m.encode(hrp: Self.humanReadablePart, data: publicKey)
    }

    /// Parses an ID typed or pasted by a person: any letter case, surrounding white space ignored.
    public init(parsing text: String) throws(EndpointIDError) {
        let trimmed = text.trimmingWhitespace
        guard trimmed.utf8.count == Self.textLength else {
            throw EndpointIDError.wrongLength(trimmed.utf8.count)
        }
        let decoded: (hrp: String, data: [UInt8])
        do {
            decoded = try Bech32m.decode(trimmed)
        } catch {
            throw EndpointIDError.malformed(error)
        }
        guard decoded.hrp == Self.humanReadablePart else { throw EndpointIDError.wrongPrefix }
        guard decoded.data.count == Self.keyLength else { throw EndpointIDError.wrongLength(trimmed.utf8.count) }
        self.publicKey = decoded.data
        self.text = trimmed.lowercased()
    }
    public var description: String { text }
}

/// Why a piece of text is not an endpoint ID.
public enum EndpointIDError: Error, Sendable, Equatable, CustomStringConvertible {
    case wrongLength(Int)
    case wrongPrefix
    case malformed(Bech32m.DecodingError)

    public var description: String {
        switch self {
        case .wrongLength(let length):
            "an endpoint ID has \(EndpointID.textLength) characters, this has \(length)"
        case .wrongPrefix:
            "an endpoint ID starts with \"s2s1\""
        case .malformed(.checksumMismatch):
            "the endpoint ID's checksum does not match: a character is mistyped"
        case .malformed(.invalidCharacter(let character)):
            "an endpoint ID cannot contain \"\(character.unicodeScalars.map { $0.isASCII && $0.value >= 32 ? String($0) : "\\u{\(String($0.value, radix: 16))}" }.joined())\""
        case .malformed(.mixedCase):
            "an endpoint ID is all lower case or all upper case"
        case .malformed:
            "this is not an endpoint ID"
        }
    }
}

extension String {
    var trimmingWhitespace: String {
        var scalars = Substring(self)
        while let first = scalars.first, first.isWhitespace { scalars.removeFirst() }
        while let last = scalars.last, last.isWhitespace { scalars.removeLast() }
        return String(scalars)
    }
}
