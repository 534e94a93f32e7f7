import S2SCore

/// What one side of a punched route gives the other by hand (`s2sctl endpoint punch`,
/// `s2sctl send --punch`): the addresses its socket can be reached at (the NAT's mapping that STUN
/// saw, and the host's own addresses for a peer on the same network), all for one local port, and
/// when the ticket stops being valid.
///
/// The text is Bech32m under `s2sp` (at most 90 characters, case-insensitive, checksummed): a
/// mistyped ticket is refused instead of sending SYNs to a wrong address. A ticket is not secret
/// and not authenticated: a forged one can only make the Noise handshake fail, since the
/// endpoint's key authenticates the receiver on every route (docs/security.md).
public struct PunchTicket: Sendable, Equatable, CustomStringConvertible {
    public enum Role: UInt8, Sendable {
        case receiver = 0
        case sender = 1
    }

    public static let prefix = "s2sp"
    static let version: UInt8 = 1
    /// Bech32m's 90 characters: the prefix, the separator and the checksum leave 49 bytes.
    static let maxPayload = 49
    /// How long a ticket is good for: long enough to be copied between two terminals.
    public static let lifetime: UInt32 = 600

    public let role: Role
    /// Seconds since the epoch after which the ticket is refused.
    public let expires: UInt32
    /// Where the side's punching socket can be reached, best first.
    public let candidates: [StunAddress]

    /// A ticket with as many of `candidates` as fit, in their order.
    public init(role: Role, expires: UInt32, candidates: [StunAddress]) {
        self.role = role
        self.expires = expires
        var kept: [StunAddress] = []
        var size = 6
        for candidate in candidates where !kept.contains(candidate) {
            let length = 3 + candidate.ip.count
            if size + length <= Self.maxPayload {
                kept.append(candidate)
                size += length
            }
        }
        self.candidates = kept
    }

    public var description: String {
        var payload: [UInt8] = [Self.version, role.rawValue]
        payload += [UInt8(expires >> 24), UInt8(expires >> 16 & 0xFF), UInt8(expires >> 8 & 0xFF), UInt8(expires & 0xFF)]
        for candidate in candidates {
            payload.append(candidate.isIPv6 ? 6 : 4)
            payload += candidate.ip
            payload += [UInt8(candidate.port >> 8), UInt8(candidate.port & 0xFF)]
        }
        return Bech32m.encode(hrp: Self.prefix, data: payload)
    }

    public enum ParseError: Error, Sendable, Equatable, CustomStringConvertible {
        case notATicket(String)
        case expired
        case wrongRole(Role)

        public var description: String {
            switch self {
            case .notATicket(let reason): "not a punch ticket: \(reason)"
            case .expired: "the ticket has expired (tickets are good for 10 minutes): ask for a new one"
            case .wrongRole(.receiver): "this is a receiver's ticket; the sender's is needed here"
            case .wrongRole(.sender): "this is a sender's ticket; the receiver's is needed here"
            }
        }
    }

    /// Reads a ticket (surrounding white space ignored), refusing a mistyped, malformed or expired
    /// one, or one without a single address to try.
    public init(parsing text: String, now: UInt32) throws(ParseError) {
        let trimmed = String(text.filter { !$0.isWhitespace })
        let decoded: (hrp: String, data: [UInt8])
        do {
            decoded = try Bech32m.decode(trimmed)
        } catch {
            throw .notATicket(trimmed.count > 90 ? "longer than 90 characters" : "mistyped (its checksum does not match) or cut short")
        }
        let payload = decoded.data
        guard decoded.hrp == Self.prefix else { throw .notATicket("it starts with \"\(decoded.hrp)1\", not \"\(Self.prefix)1\"") }
        guard payload.count >= 6, payload[0] == Self.version else { throw .notATicket("an unknown version") }
        guard let role = Role(rawValue: payload[1]) else { throw .notATicket("an unknown role") }
        let expires = payload[2...5].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        var candidates: [StunAddress] = []
        var offset = 6
        while offset < payload.count {
            let length = payload[offset] == 4 ? 4 : payload[offset] == 6 ? 16 : 0
            guard length > 0, payload.count - offset >= 3 + length,
                let address = StunAddress(ip: Array(payload[(offset + 1)...(offset + length)]), port: Int(payload[offset + 1 + length]) << 8 | Int(payload[offset + 2 + length])),
                address.port > 0
            else { throw .notATicket("a malformed address") }
            candidates.append(address)
            offset += 3 + length
        }
        guard !candidates.isEmpty else { throw .notATicket("no address") }
        guard expires >= now else { throw .expired }
        self.init(role: role, expires: expires, candidates: candidates)
    }
}
