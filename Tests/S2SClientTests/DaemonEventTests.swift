import S2SBus
import S2SCore
import Testing
@testable import S2SClient

/// The daemon's signals read as events: the typed state, and an endpoint's properties.
struct DaemonEventTests {
    static let root = ObjectPath(DaemonAPI.rootPath) ?? "/"

    @Test func progressAndFinishedCarryTypedStates() throws {
        let progress = try Message.signal(
            path: Self.root, interface: DaemonAPI.managerInterface, member: "TransferProgress",
            body: [
                .objectPath("/org/s2s/Daemon1/transfer/1000_1"), .string("verifying"), .uint64(5), .uint64(5), .uint64(1), .uint64(1),
                .uint64(0), .string(""),
            ])
        guard case .transferProgress(_, let value)? = DaemonEvent(signal: progress) else {
            Issue.record("not a progress event")
            return
        }
        #expect(value.state == .verifying)
        let finished = try Message.signal(
            path: Self.root, interface: DaemonAPI.managerInterface, member: "TransferFinished",
            body: [.objectPath("/org/s2s/Daemon1/transfer/1000_1"), .string("levitating"), .string("")])
        #expect(DaemonEvent(signal: finished) == nil)
    }

    @Test func anEndpointArrivesWithItsProperties() throws {
        let added = try Message.signal(
            path: Self.root, interface: "org.freedesktop.DBus.ObjectManager", member: "InterfacesAdded",
            body: [
                .objectPath("/org/s2s/Daemon1/endpoint/1000_4"),
                .dictionary(
                    key: .string, value: .dictionary(key: .string, value: .variant),
                    [.init(.string(DaemonAPI.endpointInterface), .vardict(["Directory": .string("/srv/in")]))]),
            ])
        guard case .endpointAdded(let path, let properties)? = DaemonEvent(signal: added) else {
            Issue.record("not an endpoint event")
            return
        }
        #expect(path == "/org/s2s/Daemon1/endpoint/1000_4")
        #expect(properties[EndpointProperty.directory.rawValue]?.stringValue == "/srv/in")
    }
}
