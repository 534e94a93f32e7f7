import S2SCore

/// What one side of a punched route gives the other by hand (`s2sctl endpoint punch`,
/// `s2sctl send --punch`): the addresses its TCP socket can be reached at (the NAT's mapping that
/// STUN saw, and the host's own addresses for a peer on the same network), all for one local
/// port, the same for its UDP port (SRT, when TCP will not punch), and when the ticket stops being
/// valid.
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
    /// Version 2 added UDP addresses; a version 1 ticket (TCP only) is still read.
    static let version: UInt8 = 2
    /// Bech32m's 90 characters: the prefix, the separator and the checksum leave 49 bytes.
    static let maxPayload = 49
    /// How long a ticket is good for: long enough to be copied between two terminals.
    public static let lifetime: UInt32 = 600

    public let role: Role
    /// Seconds since the epoch after which the ticket is refused.
    public let expires: UInt32
    /// Where the side's punching TCP socket can be reached, best first.
    public let candidates: [StunAddress]
    /// Where its UDP socket can be reached, best first.
    public let udpCandidates: [StunAddress]

    /// An address's kind byte: its family (4 or 6), plus ``udpFlag`` for a UDP address.
    static let udpFlag: UInt8 = 0x10

    /// A ticket with as many of the candidates as fit: each transport's first (the NAT's
    /// mapping), then the TCP ones, then the UDP ones.
    public init(role: Role, expires: UInt32, candidates: [StunAddress], udpCandidates: [StunAddress] = []) {
        self.role = role
        self.expires = expires
        var kept: (tcp: [StunAddress], udp: [StunAddress]) = ([], [])
        var size = 6
        let ordered = candidates.prefix(1).map { ($0, false) } + udpCandidates.prefix(1).map { ($0, true) }
            + candidates.dropFirst().map { ($0, false) } + udpCandidates.dropFirst().map { ($0, true) }
        for (candidate, udp) in ordered where !(udp ? kept.udp : kept.tcp).contains(candidate) {
            let length = 3 + candidate.ip.count
            guard size + length <= Self.maxPayload else { continue }
            if udp { kept.udp.append(candidate) } else { kept.tcp.append(candidate) }
            size += length
        }
        self.candidates = kept.tcp
        self.udpCandidates = kept.udp
    }

    public var description: String {
        var payload: [UInt8] = [Self.version, role.rawValue]
        payload += [UInt8(expires >> 24), UInt8(expires >> 16 & 0xFF), UInt8(expires >> 8 & 0xFF), UInt8(expires & 0xFF)]
        for (candidate, kind) in candidates.map({ ($0, UInt8(0)) }) + udpCandidates.map({ ($0, Self.udpFlag) }) {
            payload.append((candidate.isIPv6 ? 6 : 4) | kind)
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
        guard payload.count >= 6, (1...Self.version).contains(payload[0]) else { throw .notATicket("an unknown version") }
        guard let role = Role(rawValue: payload[1]) else { throw .notATicket("an unknown role") }
        let expires = payload[2...5].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        var candidates: (tcp: [StunAddress], udp: [StunAddress]) = ([], [])
        var offset = 6
        while offset < payload.count {
            let udp = payload[0] >= 2 && payload[offset] & Self.udpFlag != 0
            let family = payload[offset] & ~(udp ? Self.udpFlag : 0)
            let length = family == 4 ? 4 : family == 6 ? 16 : 0
            guard length > 0, payload.count - offset >= 3 + length,
                let address = StunAddress(ip: Array(payload[(offset + 1)...(offset + length)]), port: Int(payload[offset + 1 + length]) << 8 | Int(payload[offset + 2 + length])),
                address.port > 0
            else { throw .notATicket("a malformed address") }
            if udp { candidates.udp.append(address) } else { candidates.tcp.append(address) }
            offset += 3 + length
        }
        guard !candidates.tcp.isEmpty || !candidates.udp.isEmpty else { throw .notATicket("no address") }
        guard expires >= now else { throw .expired }
        self.init(role: role, expires: expires, candidates: candidates.tcp, udpCandidates: candidates.udp)
    }
}
