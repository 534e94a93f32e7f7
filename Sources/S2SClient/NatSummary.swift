public import S2SBus
import S2SCore

/// `DiscoverNAT`'s reply, read: this host's NAT as the daemon's STUN servers see it.
public struct NatSummary: Sendable, Equatable, Encodable {
    /// What one transport's requests found.
    public struct Transport: Sendable, Equatable, Encodable {
        public struct Observation: Sendable, Equatable, Encodable {
            public let server: String
            public let mapped: String
        }

        public let localPort: UInt32
        public let mapping: String
        public let observations: [Observation]
        public let errors: [String]

        /// The public address the NAT gave the local port, when every server saw the same one.
        public var publicAddress: String? {
            guard let first = observations.first, observations.allSatisfy({ $0.mapped == first.mapped }) else { return nil }
            return first.mapped
        }
    }

    public let nat: String
    public let udp: Transport
    public let tcp: Transport
    public let hostAddresses: [String]
    public let stunServers: [String]
    /// What kept servers from being asked (none configured, a name that does not resolve).
    public let errors: [String]
    public let timestamp: UInt64

    public init(reply: [DBusValue]) throws(MalformedReply) {
        typealias Key = DaemonAPI.NatKey
        guard reply.count == 1, let entries = reply[0].stringKeyedValue else { throw MalformedReply(message: "the daemon sent a malformed NAT report") }
        func value<T>(_ key: String, _ read: (DBusValue) -> T?) throws(MalformedReply) -> T {
            guard let value = entries[key].flatMap({ read($0.unwrappingVariant) }) else {
                throw MalformedReply(message: "the daemon's NAT report lacks \(key)")
            }
            return value
        }
        func strings(_ value: DBusValue) -> [String]? { value.arrayValue?.compactMap(\.stringValue) }
        func transport(_ prefix: String) throws(MalformedReply) -> Transport {
            let observations = try value(prefix + Key.mapped) { value -> [Transport.Observation]? in
                value.arrayValue?.compactMap { item in
                    guard let pair = item.structureValue, pair.count == 2, let server = pair[0].stringValue, let mapped = pair[1].stringValue else { return nil }
                    return Transport.Observation(server: server, mapped: mapped)
                }
            }
            return Transport(
                localPort: try value(prefix + Key.localPort, \.uint32Value), mapping: try value(prefix + Key.mapping, \.stringValue),
                observations: observations, errors: try value(prefix + Key.errors, strings))
        }
        nat = try value(Key.verdict, \.stringValue)
        udp = try transport("UDP")
        tcp = try transport("TCP")
        hostAddresses = try value(Key.hostAddresses, strings)
        stunServers = try value(Key.servers, strings)
        errors = try value(Key.errors, strings)
        timestamp = try value(Key.timestamp, \.uint64Value)
    }
}
