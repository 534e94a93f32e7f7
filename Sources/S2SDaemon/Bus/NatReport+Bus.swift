import S2SBus
import S2SCore
import S2SNat

extension NatReport {
    /// `DiscoverNAT`'s reply: an `a{sv}`, keys in ``DaemonAPI/NatKey``.
    func busValue(servers: [StunServer]) -> DBusValue {
        typealias Key = DaemonAPI.NatKey
        var entries: [String: DBusValue] = [
            Key.verdict: .string(verdict.rawValue),
            Key.hostAddresses: .strings(hostAddresses),
            Key.servers: .strings(servers.map(\.description)),
            Key.timestamp: .uint64(timestamp),
            Key.errors: .strings(errors),
        ]
        for (prefix, transport) in zip(Key.transports, [udp, tcp]) {
            entries[prefix + Key.localPort] = .uint32(UInt32(clamping: transport.localPort))
            entries[prefix + Key.mapping] = .string(transport.mapping.rawValue)
            entries[prefix + Key.mapped] = .array(
                .structure([.string, .string]),
                transport.observations.map { .structure([.string($0.server), .string($0.mapped.description)]) })
            entries[prefix + Key.errors] = .strings(transport.errors)
        }
        return .vardict(entries)
    }
}
