import Foundation
import S2SBus
import S2SCore

/// A connection to s2sd, with its errors turned into messages for people.
struct DaemonClient: Sendable {
    let connection: BusConnection
    let user: Bool
    static let rootPath = ObjectPath(DaemonAPI.rootPath) ?? "/"

    static func connect(user: Bool) async throws -> DaemonClient {
        do {
            let connection = try await BusConnection.connect(
                user ? .session : .system, environment: ProcessInfo.processInfo.environment)
            return DaemonClient(connection: connection, user: user)
        } catch {
            let bus = user ? "your session bus" : "the system bus"
            throw CommandFailure(message: "cannot connect to \(bus): \(error)")
        }
    }

    /// Calls a Manager method.
    func manager(_ member: String, _ arguments: [DBusValue] = []) async throws -> [DBusValue] {
        try await call(path: Self.rootPath, interface: DaemonAPI.managerInterface, member: member, arguments)
    }

    /// Every property of an object's interface.
    func properties(of path: ObjectPath, interface: String) async throws -> [String: DBusValue] {
        let reply = try await call(path: path, interface: "org.freedesktop.DBus.Properties", member: "GetAll", [.string(interface)])
        guard let properties = reply.first?.stringKeyedValue else {
            throw CommandFailure(message: "the daemon sent malformed properties")
        }
        return properties.mapValues(\.unwrappingVariant)
    }

    func call(path: ObjectPath, interface: String, member: String, _ arguments: [DBusValue] = []) async throws -> [DBusValue] {
        do {
            return try await connection.call(
                destination: DaemonAPI.busName, path: path, interface: interface, member: member, arguments)
        } catch let error as BusError {
            throw CommandFailure(message: describe(error))
        }
    }

    private func describe(_ error: BusError) -> String {
        switch error.name {
        case StandardErrorName.serviceUnknown, StandardErrorName.nameHasNoOwner:
            return user
                ? "s2sd is not running on your session bus. Start it with \"systemctl --user start s2sd\", or run \"s2sd --user\"."
                : "s2sd is not running on the system bus. Start it with \"systemctl enable --now s2sd.socket\" (as root), or run \"s2sd --system\"."
        case StandardErrorName.accessDenied:
            return "the bus refused the call: \(error.dbusErrorMessage)"
        case StandardErrorName.noReply:
            return "s2sd did not answer in time"
        case .some:
            return error.dbusErrorMessage
        case nil:
            return error.description
        }
    }
}
