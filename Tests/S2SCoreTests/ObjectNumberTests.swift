import Testing
@testable import S2SCore

/// The one grammar of endpoint and transfer names (issue 19, finding 8): `UID_N` in object
/// paths, `UID:N` for people, `N` / `USER:N` / `UID:N` on s2sctl's command line.
struct ObjectNumberTests {
    static let prefix = "/org/s2s/Daemon1/transfer"

    @Test(arguments: [(UInt32(0), Int64(1)), (1000, 3), (UInt32.max, Int64.max)])
    func pathsAndTextReadBack(_ owner: UInt32, _ number: Int64) {
        let object = ObjectNumber(owner: owner, number: number)
        #expect(object.path(below: Self.prefix) == "\(Self.prefix)/\(owner)_\(number)")
        #expect(ObjectNumber(path: object.path(below: Self.prefix), below: Self.prefix) == object)
        #expect(object.description == "\(owner):\(number)")
        #expect(ObjectNumber(parsing: object.description, caller: 1, userID: { _ in nil }) == object)
    }

    @Test(arguments: [
        "", "1", "_1", "1_", "1000_0", "1000_01", "01000_1", "+1_1", "1_-1", "1000_3_4", "4294967296_1", "1_9223372036854775808",
        "1 _1", "١_١",
    ])
    func anythingElseIsNoObject(_ element: String) {
        #expect(ObjectNumber(path: "\(Self.prefix)/\(element)", below: Self.prefix) == nil)
    }

    @Test func onlyBelowItsPrefix() {
        #expect(ObjectNumber(path: "/org/s2s/Daemon1/endpoint/1000_1", below: Self.prefix) == nil)
        #expect(ObjectNumber(path: "\(Self.prefix)/1000_1/x", below: Self.prefix) == nil)
        #expect(ObjectNumber(path: "\(Self.prefix)x/1000_1", below: Self.prefix) == nil)
    }

    @Test func peopleNameTheirOwnByNumberAndOthersByUser() {
        let names: [UInt32: String] = [1000: "alice", 1001: "1002", 1003: "odd:name"]
        let ids = ["alice": UInt32(1000)]
        #expect(ObjectNumber(parsing: "3", caller: 1000, userID: { ids[$0] }) == ObjectNumber(owner: 1000, number: 3))
        #expect(ObjectNumber(parsing: "alice:3", caller: 0, userID: { ids[$0] }) == ObjectNumber(owner: 1000, number: 3))
        #expect(ObjectNumber(parsing: "1001:3", caller: 0, userID: { ids[$0] }) == ObjectNumber(owner: 1001, number: 3))
        for bad in ["0", "03", "bob:3", ":3", "alice:", "alice:0", "a:b:3", "-3"] {
            #expect(ObjectNumber(parsing: bad, caller: 0, userID: { ids[$0] }) == nil, "\(bad)")
        }
        func text(_ owner: UInt32, for caller: UInt32) -> String {
            ObjectNumber(owner: owner, number: 7).text(for: caller, userName: { names[$0] })
        }
        #expect(text(1000, for: 1000) == "7")
        #expect(text(1000, for: 0) == "alice:7")
        // A name that would read back as another UID, or not at all, gives way to the UID.
        #expect(text(1001, for: 0) == "1001:7")
        #expect(text(1003, for: 0) == "1003:7")
        #expect(text(4242, for: 0) == "4242:7")
    }
}
