import ArgumentParser
import S2SClient
import S2SCore

/// `s2sctl endpoint punch ID`.
struct EndpointPunch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "punch",
        abstract: "Receive one transfer through both NATs, with tickets exchanged by hand.",
        discussion: """
            For a sender that cannot reach this host and has no relay in common with it. Prints a \
            ticket (on standard output, alone on its line): this host's public address as STUN \
            sees it (StunServer=) and its own addresses, for a TCP port and a UDP port. Give it to the sender, who \
            runs "s2sctl send PATH... ID --punch" and gives you the sender's ticket back; type it \
            here, or pass it with --ticket. Both daemons then connect to each other at the same \
            moments (every 2 seconds of the wall clock; both keep trying, so clocks a few seconds \
            apart still meet), through both NATs, for up to a minute, by TCP and by SRT over UDP at \
            once: the first connection carries the transfer. The endpoint's key authenticates this side as \
            always: a wrong ticket can only make the connection fail.

            Returns once connected; the transfer runs in the daemon ("s2sctl transfers"). Fails \
            at once behind a symmetric NAT, where no hole can be punched ("s2sctl nat" tells): use \
            a relay, or forward a port. Tickets reveal addresses: each side's goes only where you \
            give it.
            """)

    @ParentCommand var root: S2SCtl

    @Argument(help: ArgumentHelp("The endpoint's ID (any letter case).", valueName: "id"), completion: Completions.endpoints)
    var id: String

    @Option(help: ArgumentHelp("The sender's ticket, instead of typing it.", valueName: "ticket"))
    var ticket: String?

    func run() async throws {
        let id = try parsedID(id)
        let client = try await root.busOptions.client()
        let prepared = try await client.preparePunch(endpointID: id.text)
        let exchange = TicketExchange(ownTicket: prepared.ticket, otherSide: "sender", given: ticket)
        exchange.announce(warnings: prepared.warnings)
        let peer = try await exchange.withOtherTicket { try await client.punch(handle: prepared.handle, ticket: $0) }
        Output.error("s2sctl: connected to the sender at \(peer); the transfer runs in s2sd (s2sctl transfers)")
    }
}
