import S2SBus
import S2SEngine
import Testing
@testable import S2SDaemon

/// CreateEndpoint's options dictionary, decoded at the bus edge.
struct EndpointOptionsParsingTests {
    @Test func validOptions() throws {
        let options = try EndpointOptions(parsing: ["Quota": .uint64(1 << 30), "Lifetime": .uint32(3600), "MaxUses": .int64(1)])
        #expect(options == EndpointOptions(quota: 1 << 30, lifetime: 3600, maxUses: 1))
        #expect(try EndpointOptions(parsing: [:]) == EndpointOptions())
        #expect(try EndpointOptions(parsing: ["Quota": .uint64(.max), "MaxUses": .uint64(.max)]) == EndpointOptions())
    }

    @Test(arguments: [
        ["Colour": DBusValue.string("blue")],
        ["Quota": .string("10G")],
        ["Quota": .uint64(0)],
        ["Quota": .int32(-1)],
        ["Quota": .uint64(1 << 63)],
        ["Lifetime": .uint64(200 * 365 * 86_400)],
        ["MaxUses": .double(1)],
        ["MaxUses": .boolean(true)],
    ])
    func invalidOptionsAreNamedErrors(_ raw: [String: DBusValue]) {
        let error = #expect(throws: EngineError.self) { try EndpointOptions(parsing: raw) }
        #expect(error?.dbusErrorName == "org.s2s.Error.InvalidArgument")
    }
}
