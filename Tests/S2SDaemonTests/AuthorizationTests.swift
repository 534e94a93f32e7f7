import Foundation
import S2SBus
import S2SCore
import Testing
@testable import S2SDaemon

/// The authorization table, the decisions without polkit, and the shape of the polkit call. The
/// decisions with a real polkit are in Tests/Integration/test_polkit.py and the boot test.
struct AuthorizationTests {
    let user = Caller(uniqueName: ":1.7", uid: 1000)
    let root = Caller(uniqueName: ":1.8", uid: 0)
    let withoutPolkit = Authority(polkit: nil)

    @Test func everyMethodOfTheContractHasARule() {
        for method in DaemonInterfaces.manager.methods {
            #expect(Authorization.rule(interface: DaemonAPI.managerInterface, method: method.name) != nil, "\(method.name)")
        }
        for method in DaemonInterfaces.transfer.methods {
            #expect(Authorization.rule(interface: DaemonAPI.transferInterface, method: method.name) != nil, "\(method.name)")
        }
        #expect(Authorization.rule(interface: DaemonAPI.managerInterface, method: "Unknown") == nil)
        #expect(Authorization.rule(interface: DaemonAPI.endpointInterface, method: "Cancel") == nil)
    }

    @Test func onlyActingForOthersAndLimitsNeedAnAdministrator() {
        let manager = DaemonAPI.managerInterface
        #expect(Authorization.rule(interface: manager, method: "CreateEndpoint") == .anyone)
        #expect(Authorization.rule(interface: manager, method: "Send") == .anyone)
        #expect(Authorization.rule(interface: manager, method: "DeleteEndpoint") == .ownerOr(.manageAll))
        #expect(Authorization.rule(interface: manager, method: "ListTransfers") == .ownerOr(.manageAll))
        #expect(Authorization.rule(interface: DaemonAPI.transferInterface, method: "Cancel") == .ownerOr(.manageAll))
        #expect(Authorization.rule(interface: manager, method: "SetLimits") == .administrator(.setLimits))
    }

    @Test func withoutPolkitOnlyRootActsForOthers() async throws {
        #expect(await withoutPolkit.scope(of: user) == .owner(1000))
        #expect(await withoutPolkit.scope(of: root) == .everyone)
        #expect(await withoutPolkit.mayUse(objectOf: 1000, user))
        #expect(await !withoutPolkit.mayUse(objectOf: 1001, user))
        #expect(await !withoutPolkit.mayUse(objectOf: nil, user))
        #expect(await withoutPolkit.mayUse(objectOf: 1001, root))
        #expect(await withoutPolkit.mayUse(objectOf: 1001, user, rule: .anyone))
        #expect(await !withoutPolkit.mayUse(objectOf: 1000, user, rule: .administrator(.setLimits)))
        await #expect(throws: DaemonError.self) { try await withoutPolkit.requireAdministrator(user, for: .setLimits) }
        try await withoutPolkit.requireAdministrator(root, for: .setLimits)
    }

    @Test func scopes() {
        #expect(Scope.everyone.includes(owner: 5))
        #expect(Scope.owner(5).includes(owner: 5))
        #expect(!Scope.owner(5).includes(owner: 6))
    }

    @Test func theCheckAuthorizationCallHasPolkitsSignature() {
        let arguments = PolkitClient.checkArguments(busName: ":1.42", action: .manageAll, interactive: true)
        #expect(arguments.map(\.type.signature).joined() == "(sa{sv})sa{ss}us")
        #expect(arguments[1].stringValue == "org.s2s.Daemon1.manage-all")
        #expect(arguments[3].uint32Value == 1)
        let subject = arguments[0].structureValue
        #expect(subject?.first?.stringValue == "system-bus-name")
        #expect(subject?.last?.stringKeyedValue?["name"]?.unwrappingVariant.stringValue == ":1.42")
        #expect(PolkitClient.checkArguments(busName: ":1.42", action: .setLimits, interactive: false)[3].uint32Value == 0)
    }

    @Test func thePolicyFileDeclaresEveryAction() throws {
        let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Packaging/polkit/org.s2s.Daemon1.policy")
        let text = try String(contentsOf: file, encoding: .utf8)
        for action in PolkitAction.allCases {
            #expect(text.contains("<action id=\"\(action.rawValue)\">"), "\(action.rawValue)")
        }
    }
}

struct LimitsTests {
    let base = Limits(Configuration(bus: .system, environment: [:]))

    @Test func setLimitsChecksLikeTheConfigurationFile() throws {
        let changed = try base.applying(["MaxEndpointsPerUser": .uint64(3), "FreeSpaceReserve": .uint64(1 << 30)])
        #expect(changed.maxEndpointsPerUser == 3)
        #expect(changed.freeSpaceReserve == 1 << 30)
        #expect(changed.maxIncomingTransfers == base.maxIncomingTransfers)
        #expect(throws: DaemonError.self) { try base.applying([:]) }
        #expect(throws: DaemonError.self) { try base.applying(["MaxEndpointsPerUser": .uint64(0)]) }
        #expect(throws: DaemonError.self) { try base.applying(["MaxIncomingTransfers": .uint64(70_000)]) }
        #expect(throws: DaemonError.self) { try base.applying(["MaxEndpointsPerUser": .uint32(3)]) }
        #expect(throws: DaemonError.self) { try base.applying(["IdleTimeout": .uint64(3)]) }
        // All or nothing: one bad key and the good one is not applied either.
        #expect(throws: DaemonError.self) { try base.applying(["MaxEndpointsPerUser": .uint64(3), "Nope": .uint64(1)]) }
    }

    @Test func limitsConfWinsOverTheFileAndHoldsOnlyLimits() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("s2s-limits-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var configuration = Configuration(bus: .system, environment: [:])
        configuration.stateDirectory = directory
        configuration.maxEndpointsPerUser = 50
        try configuration.loadRuntimeLimits()   // no file yet: nothing changes
        #expect(configuration.maxEndpointsPerUser == 50)

        let saved = try Limits(configuration).applying(["MaxEndpointsPerUser": .uint64(9), "MaxIncomingTransfersPerEndpoint": .uint64(2)])
        try saved.save(inDirectory: directory)
        try configuration.loadRuntimeLimits()
        #expect(Limits(configuration) == saved)

        try "[Daemon]\nLogLevel=debug\n".write(toFile: directory + "/limits.conf", atomically: true, encoding: .utf8)
        #expect(throws: Configuration.FileError.self) { try configuration.loadRuntimeLimits() }
    }
}

struct SandboxViewTests {
    // Lines as systemd 252 leaves them for a service with PrivateTmp=yes and ProtectSystem=strict.
    let mountinfo = """
        100 90 254:0 / / ro,relatime master:1 - ext4 /dev/vda rw,discard
        101 100 254:0 /tmp/systemd-private-0f1e-s2sd.service-AbCd/tmp /tmp rw,nosuid,nodev master:1 - ext4 /dev/vda rw,discard
        102 100 254:0 /var/tmp/systemd-private-0f1e-s2sd.service-EfGh/tmp /var/tmp rw,nosuid,nodev master:1 - ext4 /dev/vda rw,discard
        103 100 254:0 /home /home rw,relatime master:1 - ext4 /dev/vda rw,discard
        104 100 7:0 / /mnt/cd\\040rom ro,relatime - iso9660 /dev/loop0 ro
        """

    @Test func privateTemporaryDirectoriesAreFound() {
        let table = MountTable(parsing: mountinfo)
        #expect(table.privateTemporaryDirectories == ["/tmp", "/var/tmp"])
        let view = SandboxView(privateDirectories: table.privateTemporaryDirectories)
        #expect(view.privateDirectory(containing: "/tmp") == "/tmp")
        #expect(view.privateDirectory(containing: "/tmp/in") == "/tmp")
        #expect(view.privateDirectory(containing: "/var/tmp/a/b") == "/var/tmp")
        #expect(view.privateDirectory(containing: "/tmpfoo/in") == nil)
        #expect(view.privateDirectory(containing: "/home/ann/in") == nil)
        #expect(MountTable(parsing: "1 0 8:1 / / rw - ext4 /dev/sda1 rw\n").privateTemporaryDirectories.isEmpty)
    }

    @Test func readOnlyForTheDaemonOnlyIsToldApart() {
        let table = MountTable(parsing: mountinfo)
        let opt = table.mount(containing: "/opt/drop")
        #expect(opt?.mountPoint == "/")
        #expect(opt?.readOnly == true && opt?.fileSystemReadOnly == false)
        #expect(table.mount(containing: "/home/ann/in")?.readOnly == false)
        let cd = table.mount(containing: "/mnt/cd rom/x")
        #expect(cd?.mountPoint == "/mnt/cd rom")
        #expect(cd?.fileSystemReadOnly == true)
    }

    @Test func theDaemonRefusesAPrivateDirectoryByName() async throws {
        let view = SandboxView(privateDirectories: ["/tmp"])
        #expect {
            try EndpointDirectory.check("/tmp/in", owner: 0, sandbox: view)
        } throws: { error in
            (error as? DaemonError)?.name == .invalidPath && "\(error)".contains("PrivateTmp")
        }
    }
}
