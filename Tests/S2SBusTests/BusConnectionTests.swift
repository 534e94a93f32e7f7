import Foundation
import Testing
@testable import S2SBus

/// A tiny service, to test the connection and the object server against a real dbus-daemon.
private struct EchoTree: ObjectTree {
    static let interface = InterfaceDescription(
        name: "org.example.Echo",
        methods: [
            .init("Echo", in: [.init("value", .variant)], out: [.init("value", .variant)]),
            .init("ReadFD", in: [.init("fd", .unixFD)], out: [.init("contents", .string)]),
            .init("Fail"),
            .init("WhoAmI", out: [.init("uid", .uint32)]),
        ],
        properties: [.init("Greeting", .string, changeSignal: .const)])

    struct EchoObject: BusObject {
        var interfaces: [InterfaceDescription] { [EchoTree.interface] }
        func call(_ method: InterfaceDescription.Method, of interface: String, arguments: [DBusValue], caller: Caller) async throws -> [DBusValue] {
            switch method.name {
            case "Echo": return arguments
            case "ReadFD":
                guard let fd = arguments.first?.unixFDValue else { throw BusError.invalidValue("no fd") }
                var buffer = [UInt8](repeating: 0, count: 64)
                let count = read(fd.rawValue, &buffer, buffer.count)
                return [.string(String(decoding: buffer.prefix(max(count, 0)), as: UTF8.self))]
            case "WhoAmI": return [.uint32(caller.uid)]
            default: throw BusError.remote(name: "org.example.Error.Deliberate", message: "as asked")
            }
        }
        func properties(of interface: String, caller: Caller) async throws -> [String: DBusValue] { ["Greeting": .string("hi")] }
    }

    var objectManagerPath: ObjectPath? { "/org/example" }
    func object(at path: ObjectPath, for caller: Caller) async throws -> (any BusObject)? {
        path == "/org/example/echo" ? EchoObject() : nil
    }
    func childNodes(of path: ObjectPath, for caller: Caller) async throws -> [String] {
        switch path.rawValue {
        case "/": ["org"]
        case "/org": ["example"]
        case "/org/example": ["echo"]
        default: []
        }
    }
    func managedObjects(for caller: Caller) async throws -> [(ObjectPath, any BusObject)] { [("/org/example/echo", EchoObject())] }
}

@Suite(.serialized)
struct BusConnectionTests {
    let bus: PrivateBus
    init() throws { bus = try PrivateBus() }

    /// Runs `body` against a server connection serving `EchoTree` under `org.example.Echo`.
    func withServer(_ body: (BusConnection) async throws -> Void) async throws {
        let serverConnection = try await bus.connect()
        let server = ObjectServer(connection: serverConnection, tree: EchoTree())
        let ready = AsyncStream<Void>.makeStream()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                try await server.run(whenServing: {
                    try await serverConnection.requestName("org.example.Echo")
                    ready.continuation.yield()
                })
            }
            var iterator = ready.stream.makeAsyncIterator()
            await iterator.next()
            let client = try await bus.connect()
            do {
                try await body(client)
            } catch {
                client.close()
                serverConnection.close()
                throw error
            }
            client.close()
            serverConnection.close()
            try await group.waitForAll()
        }
    }

    func echo(_ client: BusConnection, _ member: String, _ arguments: [DBusValue] = [], path: ObjectPath = "/org/example/echo") async throws -> [DBusValue] {
        try await client.call(destination: "org.example.Echo", path: path, interface: "org.example.Echo", member: member, arguments)
    }

    @Test func valuesRoundTripThroughARealBus() async throws {
        try await withServer { client in
            for value in MarshallingTests.samples {
                let echoed = try await echo(client, "Echo", [.variant(value)])
                #expect(echoed == [.variant(value)])
            }
        }
    }

    @Test func unixFileDescriptorsCrossTheBus() async throws {
        try await withServer { client in
            var fds: [Int32] = [0, 0]
            #expect(pipe(&fds) == 0)
            _ = "through a pipe".withCString { write(fds[1], $0, strlen($0)) }
            close(fds[1])
            let reader = UnixFileDescriptor(taking: fds[0])
            let contents = try await echo(client, "ReadFD", [.unixFD(reader)])
            #expect(contents == [.string("through a pipe")])
        }
    }

    @Test func errorsArriveByName() async throws {
        try await withServer { client in
            await #expect(throws: BusError.remote(name: "org.example.Error.Deliberate", message: "as asked")) {
                try await echo(client, "Fail")
            }
            let wrongArguments = await #expect(throws: BusError.self) { try await echo(client, "Echo", [.string("not a variant")]) }
            #expect(wrongArguments?.name == StandardErrorName.invalidArgs)
            let noObject = await #expect(throws: BusError.self) { try await echo(client, "Echo", [.variant(.byte(1))], path: "/nowhere") }
            #expect(noObject?.name == StandardErrorName.unknownObject)
            let noMethod = await #expect(throws: BusError.self) { try await echo(client, "Nope") }
            #expect(noMethod?.name == StandardErrorName.unknownMethod)
        }
    }

    @Test func callerIdentityComesFromTheBus() async throws {
        try await withServer { client in
            let uid = try await echo(client, "WhoAmI")
            #expect(uid == [.uint32(getuid())])
        }
    }

    @Test func standardInterfacesAreServed() async throws {
        try await withServer { client in
            let xml = try await client.call(
                destination: "org.example.Echo", path: "/org/example/echo",
                interface: "org.freedesktop.DBus.Introspectable", member: "Introspect")
            let text = try #require(xml.first?.stringValue)
            #expect(text.contains("<interface name=\"org.example.Echo\">"))
            #expect(text.contains("<method name=\"ReadFD\">"))
            let root = try await client.call(
                destination: "org.example.Echo", path: "/", interface: "org.freedesktop.DBus.Introspectable", member: "Introspect")
            #expect(root.first?.stringValue?.contains("<node name=\"org\"/>") == true)
            let greeting = try await client.call(
                destination: "org.example.Echo", path: "/org/example/echo", interface: "org.freedesktop.DBus.Properties",
                member: "Get", [.string("org.example.Echo"), .string("Greeting")])
            #expect(greeting == [.variant(.string("hi"))])
            let readOnly = await #expect(throws: BusError.self) {
                try await client.call(
                    destination: "org.example.Echo", path: "/org/example/echo", interface: "org.freedesktop.DBus.Properties",
                    member: "Set", [.string("org.example.Echo"), .string("Greeting"), .variant(.string("bye"))])
            }
            #expect(readOnly?.name == StandardErrorName.propertyReadOnly)
            let managed = try await client.call(
                destination: "org.example.Echo", path: "/org/example", interface: "org.freedesktop.DBus.ObjectManager",
                member: "GetManagedObjects")
            guard case .dictionary(_, _, let entries) = try #require(managed.first) else {
                Issue.record("GetManagedObjects did not return a dictionary")
                return
            }
            #expect(entries.map(\.key) == [.objectPath("/org/example/echo")])
            _ = try await client.call(destination: "org.example.Echo", path: "/", interface: "org.freedesktop.DBus.Peer", member: "Ping")
        }
    }

    @Test func unicastSignalsReachOnlyTheirDestination() async throws {
        let sender = try await bus.connect()
        let receiver = try await bus.connect()
        let bystander = try await bus.connect()
        let received = await receiver.signals()
        let overheard = await bystander.signals()
        try await bystander.addMatch("type='signal',interface='org.example.Signals'")
        try await sender.send(try Message.signal(
            path: "/x", interface: "org.example.Signals", member: "Ping", body: [.uint32(7)], destination: receiver.uniqueName))
        // A broadcast afterwards: the bystander sees it, and by then would have seen the unicast.
        try await sender.send(try Message.signal(path: "/x", interface: "org.example.Signals", member: "Broadcast"))
        var receivedIterator = received.makeAsyncIterator()
        var signal = await receivedIterator.next()
        while let current = signal, current.interface != "org.example.Signals" { signal = await receivedIterator.next() }
        #expect(signal?.member == "Ping")
        #expect(try signal?.body() == [.uint32(7)])
        var overheardIterator = overheard.makeAsyncIterator()
        var seen = await overheardIterator.next()
        while let current = seen, current.interface != "org.example.Signals" { seen = await overheardIterator.next() }
        #expect(seen?.member == "Broadcast")
        for connection in [sender, receiver, bystander] { connection.close() }
    }

    @Test func aClosedConnectionFailsCallsInsteadOfHanging() async throws {
        let client = try await bus.connect()
        client.close()
        await client.waitUntilDisconnected()
        await #expect(throws: BusError.self) {
            try await client.call(destination: "org.freedesktop.DBus", path: "/org/freedesktop/DBus", interface: "org.freedesktop.DBus", member: "GetId")
        }
    }

    @Test func aSecondOwnerOfANameIsRefused() async throws {
        let first = try await bus.connect()
        let second = try await bus.connect()
        try await first.requestName("org.example.Unique")
        await #expect(throws: BusError.self) { try await second.requestName("org.example.Unique") }
        let owned = try await second.nameHasOwner("org.example.Unique")
        #expect(owned)
        first.close()
        second.close()
    }

    @Test func theSessionBusAddressFollowsTheConventions() throws {
        #expect(try BusAddress.session.resolve(environment: ["DBUS_SESSION_BUS_ADDRESS": "unix:path=/x"]) == "unix:path=/x")
        #expect(try BusAddress.system.resolve(environment: [:]) == "unix:path=/run/dbus/system_bus_socket")
        #expect(throws: BusError.self) { try BusAddress.session.resolve(environment: ["XDG_RUNTIME_DIR": "/nonexistent"]) }
        #expect(BusAddress.escape("/run/user/1000/bus") == "/run/user/1000/bus")
        #expect(BusAddress.escape("/tmp/a b") == "/tmp/a%20b")
    }
}
