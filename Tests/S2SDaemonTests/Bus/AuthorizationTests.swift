import Foundation
import S2SBus
import S2SCore
import S2SEngine
import Testing
@testable import S2SDaemon

/// The authorization table, the decisions without polkit, and the shape of the polkit call. The
/// decisions with a real polkit are in Tests/Integration/test_polkit.py and the boot test.
struct AuthorizationTests {
    let user = Caller(uniqueName: ":1.7", uid: 1000)
    let root = Caller(uniqueName: ":1.8", uid: 0)
    let withoutPolkit = Authority(polkit: nil)

    @Test func everyMethodOfTheContractHasARule() {
        for method in DaemonBusTable.manager.description.methods {
            #expect(Authorization.rule(interface: DaemonAPI.managerInterface, method: method.name) != nil, "\(method.name)")
        }
        for method in DaemonBusTable.transfer.description.methods {
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
        await #expect(throws: EngineError.self) { try await withoutPolkit.requireAdministrator(user, for: .setLimits) }
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
        let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Packaging/polkit/org.s2s.Daemon1.policy")
        let text = try String(contentsOf: file, encoding: .utf8)
        for action in PolkitAction.allCases {
            #expect(text.contains("<action id=\"\(action.rawValue)\">"), "\(action.rawValue)")
        }
    }
}
