import FoundationEssentials
import S2SBus
import S2SClient
import S2SCore

/// An endpoint as `s2sctl` prints it, from the daemon's Endpoint properties.
struct EndpointInfo: Encodable {
    /// The endpoint's number among its owner's (`UID_N` of its object path).
    let number: Int64
    let id: String
    let object: String
    let directory: String
    let owner: UInt32
    let created: String
    @Nullable var quota: UInt64?
    @Nullable var expires: String?
    @Nullable var remainingUses: UInt64?
    let bytesReceived: UInt64
    let filesReceived: UInt64
    /// The relay the endpoint waits at (`null`: the daemon has no relays), and whether a
    /// connection is waiting there now.
    @Nullable var relay: String?
    @Nullable var relayConnected: Bool?
    /// Whether senders through the relay may move to a direct path (`null`: a daemon without it).
    @Nullable var allowDirect: Bool?
    /// `ID@HOST:PORT` when the daemon has an external address (`endpoint new` only).
    @Nullable var address: String? = nil

    init(object: ObjectPath, properties: [String: DBusValue]) throws {
        let reader = PropertyReader(properties: properties, object: "an endpoint")
        func required<T>(_ property: EndpointProperty, _ extract: (DBusValue) -> T?) throws(MalformedReply) -> T {
            try reader.required(property.rawValue, extract)
        }
        func limit(_ property: EndpointProperty) throws(MalformedReply) -> UInt64? {
            let value = try required(property, \.uint64Value)
            return value == DaemonAPI.unlimited ? nil : value
        }
        self.object = object.rawValue
        number = ObjectNumber(path: object.rawValue, below: DaemonAPI.endpointPathPrefix)?.number ?? 0
        id = try required(.id, \.stringValue)
        directory = try required(.directory, \.stringValue)
        owner = try required(.owner, \.uint32Value)
        created = Timestamp.rfc3339(microseconds: try required(.createdTimestamp, \.uint64Value))
        quota = try limit(.quota)
        expires = try limit(.expiresTimestamp).map(Timestamp.rfc3339(microseconds:))
        remainingUses = try limit(.remainingUses)
        bytesReceived = try required(.bytesReceived, \.uint64Value)
        filesReceived = try required(.filesReceived, \.uint64Value)
        if let relay = reader.optional(EndpointProperty.relay.rawValue, \.stringValue), !relay.isEmpty {
            self.relay = relay
            relayConnected = reader.optional(EndpointProperty.relayConnected.rawValue, \.boolValue)
        }
        allowDirect = reader.optional(EndpointProperty.allowDirect.rawValue, \.boolValue)
    }

    /// Name: value lines for `endpoint show`.
    var details: [(String, String)] {
        [
            ("ID", id),
            ("Directory", directory),
            ("Owner", Users.name(of: owner)),
            ("Created", Time.human(rfc3339: created)),
            ("Quota", quota.map(Units.formatSize) ?? "unlimited"),
            ("Expires", expires.map(Time.human(rfc3339:)) ?? "never"),
            ("Uses left", remainingUses.map(String.init) ?? "unlimited"),
            ("Received", "\(Units.formatSize(bytesReceived)) in \(filesReceived) file\(filesReceived == 1 ? "" : "s")"),
            ("Relay", relay.map { "\($0), " + (relayConnected == true ? "waiting" : "not connected") } ?? "none"),
            ("Direct path", allowDirect == true ? "allowed to senders through the relay that ask" : "no"),
            ("Object", object),
        ]
    }
}

/// Timestamps for people, in local time (``Timestamp`` gives the RFC 3339 of JSON).
enum Time {
    static func human(rfc3339 text: String) -> String {
        guard let date = LocalTime.date(rfc3339: text) else { return text }
        return human(date)
    }

    static func human(_ date: Date) -> String {
        LocalTime.format(date, "%Y-%m-%d %H:%M:%S %Z")
    }
}

/// User names for UIDs, falling back to the number.
enum Users {
    static func name(of uid: UInt32) -> String {
        PasswordEntry.lookup(uid: uid)?.name ?? String(uid)
    }

}
