import Testing
@testable import S2SDaemon

/// What an entry of a transfer list carries of a send's sources (`TransferObject.listed`).
struct TransferObjectTests {
    @Test func aShortListIsWhole() {
        #expect(TransferObject.listed([]) == [])
        #expect(TransferObject.listed(["/a", "/b"]) == ["/a", "/b"])
    }

    @Test func aLongListKeepsItsFirstItems() {
        let many = (0..<4096).map { "/srv/out/file-\($0)" }
        #expect(TransferObject.listed(many) == Array(many.prefix(TransferObject.listedItems)))
    }

    @Test func longPathsAreCutByBytesButTheFirstStays() {
        let long = (0..<64).map { "/" + String(repeating: "d", count: 3800) + "/f\($0)" }
        #expect(TransferObject.listed(long) == [long[0]])
        let huge = "/" + String(repeating: "x", count: 9000)
        #expect(TransferObject.listed([huge, "/b"]) == [huge])
        let two = (0..<8).map { "/" + String(repeating: "p", count: 1500) + "\($0)" }
        #expect(TransferObject.listed(two) == Array(two.prefix(2)))
    }
}
