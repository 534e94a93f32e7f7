import Testing
@testable import S2SCore

struct PasswordEntryTests {
    @Test func rootIsInThePasswordDatabase() throws {
        let root = try #require(PasswordEntry.lookup(uid: 0))
        #expect(root.name == "root")
        #expect(root.gid == 0)
        #expect(root.home.hasPrefix("/"))
    }

    @Test func anUnknownUIDHasNoEntry() {
        #expect(PasswordEntry.lookup(uid: 4_000_000_000) == nil)
    }
}
