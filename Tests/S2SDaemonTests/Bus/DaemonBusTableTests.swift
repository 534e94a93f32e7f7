import S2SBus
import S2SCore
import S2SEngine
import Testing
@testable import S2SDaemon

/// The bus table: its properties read the engine's objects, and PropertiesChanged carries only
/// what changed.
struct DaemonBusTableTests {
    func transfer() -> Transfer {
        Transfer(number: 7, direction: .send, owner: 1000, digestAlgorithm: "xxh3-128", initialState: .queued)
    }

    @Test func theQueuePropertiesAreOnTheBus() {
        let t = transfer()
        t.update {
            $0.attempts = 3
            $0.nextAttempt = 99
            $0.lastError = "connection refused"
        }
        let properties = TransferObject.Snapshot(transfer: t, progress: t.snapshot)
        let values = DaemonBusTable.transfer.values(of: properties)
        #expect(values["State"]?.stringValue == "queued")
        #expect(values["Attempts"]?.uint32Value == 3)
        #expect(values["NextAttempt"]?.uint64Value == 99)
        #expect(values["LastError"]?.stringValue == "connection refused")
        let changing = Set(DaemonBusTable.transfer.properties.filter { $0.description.changeSignal == .emits }.map(\.name))
        #expect(changing.isSuperset(of: ["Attempts", "NextAttempt", "LastError", "State"]))
    }

    @Test func propertiesChangedCarriesOnlyWhatChanged() {
        let t = transfer()
        let before = t.snapshot
        t.update {
            $0.bytesDone = 10
            $0.state = .sending
        }
        let changed = DaemonBusTable.transfer.changedValues(
            from: TransferObject.Snapshot(transfer: t, progress: before), to: TransferObject.Snapshot(transfer: t, progress: t.snapshot))
        #expect(Set(changed.keys) == ["BytesDone", "State"])
        #expect(changed["BytesDone"]?.uint64Value == 10)
        let first = DaemonBusTable.transfer.changedValues(from: nil, to: TransferObject.Snapshot(transfer: t, progress: t.snapshot))
        #expect(first.keys.contains("Rate") && !first.keys.contains("Owner"))
    }

    @Test func everyMethodHasARuleAndAHandler() {
        for method in DaemonBusTable.manager.methods {
            #expect(Authorization.rule(interface: DaemonAPI.managerInterface, method: method.description.name) == method.rule)
        }
        for method in DaemonBusTable.transfer.methods {
            #expect(Authorization.rule(interface: DaemonAPI.transferInterface, method: method.description.name) == method.rule)
        }
    }

    @Test func engineErrorsBecomeTheDaemonsNamedErrors() {
        #expect(EngineError.invalidPath("x").dbusErrorName == "org.s2s.Error.InvalidPath")
        #expect(EngineError.limitExceeded("x").dbusErrorName == "org.s2s.Error.LimitExceeded")
        #expect(EngineError.accessDenied("x").dbusErrorName == "org.s2s.Error.AccessDenied")
        #expect(Set(EngineError.Kind.allCases.map { EngineError($0, "").dbusErrorName }) == Set(DaemonErrorName.allCases.map(\.rawValue)))
        #expect(EngineError.notFound("no endpoint with this ID").dbusErrorMessage == "no endpoint with this ID")
    }
}
