import Testing
@testable import S2SNat

/// Punch tickets: what survives the trip between two terminals, and what is refused.
struct PunchTicketTests {
    static let mapped = StunAddress(ip: [198, 19, 0, 11], port: 40000)!
    static let host = StunAddress(ip: [198, 18, 10, 2], port: 40000)!
    static let global6 = StunAddress(ip: [0x20, 0x01, 0x0d, 0xb8] + [UInt8](repeating: 0, count: 11) + [2], port: 40000)!

    @Test func aTicketRoundTripsInAnyLetterCase() throws {
        let ticket = PunchTicket(role: .receiver, expires: 2_000_000_000, candidates: [Self.mapped, Self.host, Self.global6])
        let text = ticket.description
        #expect(text.hasPrefix("s2sp1") && text.count <= 90)
        #expect(try PunchTicket(parsing: text, now: 1_900_000_000) == ticket)
        #expect(try PunchTicket(parsing: "  " + text.uppercased() + "\n", now: 1_900_000_000) == ticket)
    }

    @Test func candidatesBeyondNinetyCharactersAreLeftOutInOrder() {
        let many = (1...8).map { StunAddress(ip: [10, 0, 0, UInt8($0)], port: 1000 + $0)! }
        let ticket = PunchTicket(role: .sender, expires: 1, candidates: [Self.global6, Self.global6] + many)
        #expect(ticket.candidates.first == Self.global6)
        #expect(ticket.candidates.count == 4, "after the 6-byte header, one IPv6 (19 bytes) and three IPv4 (7 each) fit in 49")
        #expect(ticket.description.count <= 90)
    }

    @Test func mistypedForeignStaleAndEmptyTicketsAreRefused() throws {
        let text = PunchTicket(role: .sender, expires: 100, candidates: [Self.mapped]).description
        var typo = Array(text)
        typo[10] = typo[10] == "q" ? "p" : "q"
        #expect(throws: PunchTicket.ParseError.self) { try PunchTicket(parsing: String(typo), now: 50) }
        #expect(throws: PunchTicket.ParseError.expired) { try PunchTicket(parsing: text, now: 101) }
        let id = "s2s17wy5pxelxkrg822u8hc7tasngeq5ch9r32nvhfdr5wfkqms3suasxlzuxx"
        #expect(throws: PunchTicket.ParseError.self) { try PunchTicket(parsing: id, now: 0) }
        let empty = PunchTicket(role: .sender, expires: 100, candidates: []).description
        #expect(throws: PunchTicket.ParseError.notATicket("no address")) { try PunchTicket(parsing: empty, now: 0) }
        #expect(throws: PunchTicket.ParseError.self) { try PunchTicket(parsing: String(repeating: "q", count: 5000), now: 0) }
    }

    @Test func aPortZeroOrAnUnknownFamilyIsMalformed() {
        let zero = Bech32mForTests.encode([1, 1, 0, 0, 0, 100, 4, 10, 0, 0, 1, 0, 0])
        #expect(throws: PunchTicket.ParseError.notATicket("a malformed address")) { try PunchTicket(parsing: zero, now: 0) }
        let family = Bech32mForTests.encode([1, 1, 0, 0, 0, 100, 5, 10, 0, 0, 1, 0, 1])
        #expect(throws: PunchTicket.ParseError.notATicket("a malformed address")) { try PunchTicket(parsing: family, now: 0) }
        let truncated = Bech32mForTests.encode([1, 1, 0, 0, 0, 100, 4, 10, 0])
        #expect(throws: PunchTicket.ParseError.notATicket("a malformed address")) { try PunchTicket(parsing: truncated, now: 0) }
        let version = Bech32mForTests.encode([3, 1, 0, 0, 0, 100, 4, 10, 0, 0, 1, 0, 1])
        #expect(throws: PunchTicket.ParseError.notATicket("an unknown version")) { try PunchTicket(parsing: version, now: 0) }
    }

    @Test func udpAddressesTravelBesideTcpOnesAndEachTransportsMappedAddressComesFirst() throws {
        let udpMapped = StunAddress(ip: [198, 19, 0, 11], port: 50000)!
        let udpHost = StunAddress(ip: [198, 18, 10, 2], port: 50000)!
        let many = (1...8).map { StunAddress(ip: [10, 0, 0, UInt8($0)], port: 1000 + $0)! }
        let ticket = PunchTicket(role: .receiver, expires: 100, candidates: [Self.mapped] + many, udpCandidates: [udpMapped, udpHost])
        // 43 bytes after the header: six IPv4 addresses; the UDP mapping is second, not crowded out.
        #expect(ticket.candidates == [Self.mapped] + many.prefix(4))
        #expect(ticket.udpCandidates == [udpMapped])
        let parsed = try PunchTicket(parsing: ticket.description, now: 0)
        #expect(parsed == ticket && parsed.udpCandidates == [udpMapped])
        // A ticket with UDP addresses only is a ticket.
        let udpOnly = PunchTicket(role: .sender, expires: 100, candidates: [], udpCandidates: [udpHost])
        #expect(try PunchTicket(parsing: udpOnly.description, now: 0).udpCandidates == [udpHost])
    }

    @Test func aVersionOneTicketIsReadAndKnowsNoUdp() throws {
        // Version 1 had no UDP kind: 0x14 there is an unknown family.
        let v1 = Bech32mForTests.encode([1, 1, 0, 0, 0, 100, 4, 10, 0, 0, 1, 0, 1])
        #expect(try PunchTicket(parsing: v1, now: 0).candidates == [StunAddress(ip: [10, 0, 0, 1], port: 1)!])
        let v1udp = Bech32mForTests.encode([1, 1, 0, 0, 0, 100, 0x14, 10, 0, 0, 1, 0, 1])
        #expect(throws: PunchTicket.ParseError.notATicket("a malformed address")) { try PunchTicket(parsing: v1udp, now: 0) }
        let v2udp = Bech32mForTests.encode([2, 1, 0, 0, 0, 100, 0x14, 10, 0, 0, 1, 0, 1])
        #expect(try PunchTicket(parsing: v2udp, now: 0).udpCandidates == [StunAddress(ip: [10, 0, 0, 1], port: 1)!])
    }

    @Test func attemptsStartAtTheWallClocksEvenSeconds() {
        #expect(TCPPunch.untilNextSlot(wallClock: 1_000_000_000) == .seconds(2))
        #expect(TCPPunch.untilNextSlot(wallClock: 1_001_500_000) == .milliseconds(500))
        #expect(TCPPunch.untilNextSlot(wallClock: 1_999_999) == .microseconds(1))
    }

    @Test func hostCandidatesAreReadFromAddressText() {
        #expect(PunchPreparation.address("198.18.10.2", port: 5) == StunAddress(ip: [198, 18, 10, 2], port: 5))
        #expect(PunchPreparation.address("2001:db8::2", port: 40000) == Self.global6)
        #expect(PunchPreparation.address("not an address", port: 1) == nil)
    }
}

import S2SCore

enum Bech32mForTests {
    static func encode(_ payload: [UInt8]) -> String { Bech32m.encode(hrp: PunchTicket.prefix, data: payload) }
}
