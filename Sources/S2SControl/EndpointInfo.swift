import Foundation
import S2SBus
import S2SClient
import S2SCore

/// An endpoint as `s2sctl` prints it, from the daemon's Endpoint properties.
struct EndpointInfo: Encodable {
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
    /// `ID@HOST:PORT` when the daemon has an external address (`endpoint new` only).
    @Nullable var address: String? = nil

    init(object: ObjectPath, properties: [String: DBusValue]) throws {
        let reader = PropertyReader(properties: properties, object: "an endpoint")
        func limit(_ name: String) throws -> UInt64? {
            let value = try reader.required(name, \.uint64Value)
            return value == DaemonAPI.unlimited ? nil : value
        }
        self.object = object.rawValue
        id = try reader.required("Id", \.stringValue)
        directory = try reader.required("Directory", \.stringValue)
        owner = try reader.required("Owner", \.uint32Value)
        created = Time.rfc3339(microseconds: try reader.required("CreatedTimestamp", \.uint64Value))
        quota = try limit("Quota")
        expires = try limit("ExpiresTimestamp").map(Time.rfc3339(microseconds:))
        remainingUses = try limit("RemainingUses")
        bytesReceived = try reader.required("BytesReceived", \.uint64Value)
        filesReceived = try reader.required("FilesReceived", \.uint64Value)
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
            ("Object", object),
        ]
    }
}

/// Timestamps: microseconds since the epoch on the bus, RFC 3339 in JSON, local time for people.
enum Time {
    static func date(microseconds: UInt64) -> Date {
        Date(timeIntervalSince1970: Double(microseconds) / 1_000_000)
    }

    static func rfc3339(microseconds: UInt64) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date(microseconds: microseconds))
    }

    static func human(rfc3339 text: String) -> String {
        guard let date = ISO8601DateFormatter().date(from: text) else { return text }
        return human(date)
    }

    static func human(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss zzz"
        return formatter.string(from: date)
    }
}

/// User names for UIDs, falling back to the number.
enum Users {
    static func name(of uid: UInt32) -> String {
        PasswordEntry.lookup(uid: uid)?.name ?? String(uid)
    }

}
