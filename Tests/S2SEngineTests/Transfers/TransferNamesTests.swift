import S2SProtocol
import Testing
@testable import S2SEngine

/// The `Names` property: the top-level entries of an offer, as a notification names a transfer.
struct TransferNamesTests {
    @Test func topLevelEntriesInOfferOrderWithDirectoriesMarked() throws {
        let entries: [OfferEntry] = [
            .directory(try RelativePath("photos")), .file(try RelativePath("photos/a.jpg"), size: 1),
            .file(try RelativePath("report.pdf"), size: 2), .file(try RelativePath("music/x/y.ogg"), size: 3),
            .directory(try RelativePath("empty")),
        ]
        #expect(Transfer.topLevelNames(entries) == ["photos/", "report.pdf", "music/", "empty/"])
    }

    @Test func atMostSixtyFourNames() throws {
        let entries = try (0..<100).map { OfferEntry.file(try RelativePath("f\($0)"), size: 0) }
        let names = Transfer.topLevelNames(entries)
        #expect(names.count == Transfer.maxNames && names.first == "f0" && names.last == "f63")
    }
}
