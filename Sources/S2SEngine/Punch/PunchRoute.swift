import S2SNat
import S2SProtocol

/// A send's punched route, as stored with the queued send: the local ports its ticket named and
/// the receiver's addresses from the receiver's ticket. A punch happens once, at the moment both
/// sides agreed on, so such a send makes one attempt.
package struct PunchRoute: Sendable, Equatable, Codable {
    package let localPort: Int
    /// `ADDRESS:PORT` or `[ADDRESS]:PORT`, best first.
    package let candidates: [String]
    /// The UDP port and the receiver's UDP address for SRT, when both tickets have one.
    package let udpPort: Int?
    package let udpCandidate: String?

    init(localPort: Int, udpPort: Int, ticket: PunchTicket) {
        self.localPort = localPort
        self.candidates = ticket.candidates.map(\.description)
        let udpCandidate = udpPort == 0 ? nil : ticket.udpCandidates.first
        self.udpPort = udpCandidate == nil ? nil : udpPort
        self.udpCandidate = udpCandidate?.description
    }

    /// The path as the session's connections take it.
    var path: DirectPath.Punched {
        DirectPath.Punched(
            localPort: localPort, candidates: candidates.compactMap(Self.candidate), udpPort: udpPort ?? 0,
            udpRemote: udpCandidate.flatMap(Self.candidate))
    }

    private static func candidate(_ text: String) -> DirectCandidate? {
        guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]) else { return nil }
        let host = String(text[..<colon].filter { $0 != "[" && $0 != "]" })
        return PunchPreparation.address(host, port: Int(port)).flatMap(DirectCandidate.init)
    }
}

/// What `Send`'s punch options ask for, before the engine turns it into a ``PunchRoute``.
package struct PunchRequest: Sendable, Equatable {
    package let handle: String
    package let ticket: String

    package init(handle: String, ticket: String) {
        self.handle = handle
        self.ticket = ticket
    }
}
