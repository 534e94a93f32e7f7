import S2SCore

/// Where a send goes: `ID@HOST:PORT` (the direct route) or a plain `ID` (the relay route). The
/// syntax is S2SCore's `PeerDestination`, which `s2sctl` checks the same way before it calls.
typealias Destination = PeerDestination

extension PeerDestination {
    /// Parses a destination as `PeerDestination` does, adding the daemon's own rule: the relay
    /// route needs `hasRelays` (the daemon has relays configured).
    init(parsing text: String, hasRelays: Bool) throws(EngineError) {
        do {
            try self.init(parsing: text)
        } catch {
            throw .invalidArgument(error.description)
        }
        guard route != .relay || hasRelays else {
            throw .invalidArgument(
                "\"\(text)\" has no address: sending by the ID alone needs a relay, which this daemon does not have (Relay= or --relay); use ID@HOST:PORT")
        }
    }
}
