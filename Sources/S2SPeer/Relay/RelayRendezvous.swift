import Crypto

/// Chooses the relay for a token among several, the same on both sides without talking:
/// rendezvous (highest random weight) hashing. Each relay's weight is
/// `SHA-256(token bytes ‖ relay address text)`, compared as a big-endian number; the highest
/// wins. Adding or removing a relay moves only the endpoints that chose it.
public enum RelayRendezvous {
    /// The relays ordered by weight for `token`, the chosen one first (the rest are the order of
    /// fallback). Duplicates count once.
    public static func ranked(_ relays: [RelayAddress], for token: RelayToken) -> [RelayAddress] {
        var seen = Set<RelayAddress>()
        let unique = relays.filter { seen.insert($0).inserted }
        return unique
            .map { relay in (relay, weight(relay, token)) }
            .sorted { $1.1.lexicographicallyPrecedes($0.1) }
            .map(\.0)
    }

    /// The chosen relay for `token`, `nil` when there are none.
    public static func choose(_ relays: [RelayAddress], for token: RelayToken) -> RelayAddress? {
        ranked(relays, for: token).first
    }

    static func weight(_ relay: RelayAddress, _ token: RelayToken) -> [UInt8] {
        var hash = SHA256()
        hash.update(data: token.bytes)
        hash.update(data: Array(relay.description.utf8))
        return Array(hash.finalize())
    }
}
