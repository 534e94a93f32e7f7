import Testing
@testable import S2SBus

/// Values survive a trip through the wire format unchanged, whatever their type.
struct MarshallingTests {
    static let samples: [DBusValue] = [
        .byte(0), .byte(255), .boolean(true), .boolean(false),
        .int16(.min), .uint16(.max), .int32(-42), .uint32(.max), .int64(.min), .uint64(.max),
        .double(-1.5), .double(.infinity),
        .string(""), .string("hello, wörld ✓"),
        .objectPath("/"), .objectPath("/org/s2s/Daemon1/endpoint/1000_7"),
        .signature([]), .signature(try! DBusType.parse("a{sv}(iu)as")),
        .variant(.string("inside")), .variant(.variant(.uint32(3))),
        .array(.string, []), .array(.int32, [.int32(1), .int32(2), .int32(3)]),
        .array(.array(.byte), [.array(.byte, [.byte(1)]), .array(.byte, [])]),
        .dictionary(key: .string, value: .variant, []),
        .vardict(["Quota": .uint64(10), "Name": .string("x"), "Nested": .vardict(["a": .boolean(true)])]),
        .dictionary(key: .uint32, value: .string, [.init(.uint32(1), .string("one")), .init(.uint32(2), .string("two"))]),
        .structure([.string("s"), .int32(1), .array(.string, [.string("a")])]),
        .array(.structure([.objectPath, .dictionary(key: .string, value: .variant)]), [
            .structure([.objectPath("/a"), .vardict(["k": .uint64(1)])])
        ]),
    ]

    @Test("every type round-trips through marshal and demarshal", arguments: samples)
    func roundTrip(_ value: DBusValue) throws {
        let message = try Message.methodCall(
            destination: "org.example.Test", path: "/test", interface: "org.example.Test", member: "Echo", body: [value])
        #expect(message.signature == value.type.signature)
        let copy = try Message.demarshal(try message.marshal())
        #expect(try copy.body() == [value])
        #expect(copy.member == "Echo")
        #expect(copy.path == "/test")
    }

    @Test func largeValuesRoundTrip() throws {
        let values: [DBusValue] = [
            .string(String(repeating: "x", count: 1 << 20)),
            .array(.uint64, (0..<100_000).map { .uint64($0) }),
        ]
        let message = try Message.signal(path: "/t", interface: "org.example.T", member: "Large", body: values)
        #expect(try Message.demarshal(try message.marshal()).body() == values)
    }

    @Test func severalArgumentsKeepTheirOrder() throws {
        let values = Self.samples
        let message = try Message.signal(path: "/t", interface: "org.example.T", member: "Many", body: values)
        #expect(try Message.demarshal(try message.marshal()).body() == values)
    }

    @Test func signaturesParseAndPrint() throws {
        for text in ["", "s", "a{sv}", "a(oa{sv})", "aaai", "(i(s(b)))", "a{oa{sa{sv}}}", "h", "v"] {
            #expect(try DBusType.parse(text).signature == text)
        }
    }

    @Test(arguments: ["a", "{sv}", "a{vs}", "()", "(i", "i)", "a{s}", "a{sss}", "z", String(repeating: "a", count: 33) + "i",
                      String(repeating: "(", count: 33) + "i" + String(repeating: ")", count: 33), String(repeating: "i", count: 256)])
    func invalidSignaturesAreRejected(_ text: String) {
        #expect(throws: DBusTypeError.self) { try DBusType.parse(text) }
    }

    @Test func valuesThatDoNotMatchTheirTypeAreRefusedBeforeLibdbusSeesThem() {
        let bad: [DBusValue] = [
            .array(.string, [.int32(1)]),
            .dictionary(key: .string, value: .variant, [.init(.string("k"), .string("not a variant"))]),
            .dictionary(key: .variant, value: .string, []),
            .structure([]),
            .string("nul\u{0}inside"),
        ]
        for value in bad {
            #expect(throws: BusError.self) {
                try Message.methodCall(destination: nil, path: "/t", interface: nil, member: "M", body: [value])
            }
        }
    }

    @Test func invalidNamesAreRefusedBeforeLibdbusSeesThem() {
        #expect(throws: BusError.self) { try Message.methodCall(destination: "not a name", path: "/", interface: nil, member: "M") }
        #expect(throws: BusError.self) { try Message.methodCall(destination: nil, path: "/", interface: "no-dots", member: "M") }
        #expect(throws: BusError.self) { try Message.methodCall(destination: nil, path: "/", interface: nil, member: "Bad.Member") }
        #expect(throws: BusError.self) { try Message.signal(path: "/", interface: "a.b", member: "") }
        let call = try? Message.methodCall(destination: nil, path: "/", interface: nil, member: "M")
        #expect(throws: BusError.self) { try call?.errorReply(name: "NoDots", message: "x") }
    }

    @Test func objectPathsAreValidated() {
        for good in ["/", "/a", "/a/b_c/D9"] { #expect(ObjectPath(good) != nil) }
        for bad in ["", "a", "/a/", "//", "/a//b", "/a-b", "/ä", "/a b"] { #expect(ObjectPath(bad) == nil) }
        let deep: ObjectPath = "/a/b/c", sibling: ObjectPath = "/ab", top: ObjectPath = "/a"
        #expect(deep.elements(below: "/a") == ["b", "c"])
        #expect(sibling.elements(below: "/a") == nil)
        #expect(top.elements(below: "/") == ["a"])
    }

    @Test func onlyReceivedCallsCanBeAnswered() throws {
        let unsent = try Message.methodCall(destination: "org.example.T", path: "/", interface: "org.example.T", member: "M")
        #expect(throws: BusError.self) { try unsent.methodReturn() }
        #expect(throws: BusError.self) { try unsent.errorReply(name: "org.example.Error.X", message: "x") }
    }

    @Test func errorRepliesCarryNameAndMessage() throws {
        // A call as it arrives from the wire, with a serial.
        let call = try Message.demarshal(
            try Message.methodCall(destination: "org.example.T", path: "/", interface: "org.example.T", member: "M").marshal(serial: 9))
        let reply = try Message.demarshal(try call.errorReply(name: "org.example.Error.Nope", message: "not today\u{0}!").marshal())
        #expect(reply.kind == .error)
        #expect(reply.error == .remote(name: "org.example.Error.Nope", message: "not today?!"))
    }
}
