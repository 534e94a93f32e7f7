import Foundation
import Testing
@testable import S2SEngine

/// As root, everything runs as user `nobody` through `UserContext`, as the daemon does for an
/// endpoint's owner: received files belong to the owner, and the owner's lack of rights is the
/// daemon's lack of rights.
@Suite(.serialized)
struct ReceiveAsOwnerTests {
    static let nobody: uid_t = 65534

    @Test func filesReceivedAsTheOwnerBelongToTheOwner() async throws {
        guard getuid() == 0 else { return }
        let fixture = try ReceiveFixture(owner: Self.nobody)
        defer { fixture.remove() }
        let owner = try UserContext.lookup(uid: Self.nobody)
        let endpoint = try await fixture.open(as: Self.nobody)
        let published = try await owner.receive { () throws(ReceiveError) in
            let area = try endpoint.openPartialArea(transferName)
            let directory = try endpoint.makeDirectory("notes", in: nil)
            let file = try area.createFile(index: 1, algorithm: .xxh3_128)
            try file.write(Array("hello".utf8), at: 0)
            try file.finish(expected: try xxh3(Array("hello".utf8)), size: 5, offeredMode: 0o644, mtime: ReceiveTime(seconds: 1_700_000_000))
            try area.sync([file])
            let result = try area.publish([.init(file: file, directory: directory, name: "hello.txt")])[0].get()
            try endpoint.finishDirectory(directory, offeredMode: 0o755, mtime: ReceiveTime(seconds: 1_700_000_000))
            return result.path.description
        }
        #expect(published == "notes/hello.txt")
        for path in ["endpoint/notes/hello.txt", "endpoint/notes", "endpoint/.s2s-partial", "endpoint/.s2s-partial/\(transferName)"] {
            let status = try #require(fixture.status(path))
            #expect(status.st_uid == Self.nobody, "\(path)")
        }
        try await owner.receive { () throws(ReceiveError) in try endpoint.removePartialArea(transferName) }
        #expect(fixture.list("endpoint/.s2s-partial") == [])
    }

    /// `nobody` cannot write into a directory root owns (0755), so neither can the daemon on
    /// nobody's behalf: a clean `accessDenied`, FILE_RESULT 2, and nothing created.
    @Test func theOwnerCannotWriteWhereTheyMayNot() async throws {
        guard getuid() == 0 else { return }
        let fixture = try ReceiveFixture()
        defer { fixture.remove() }
        let owner = try UserContext.lookup(uid: Self.nobody)
        let endpoint = try await fixture.open()  // opened by root, used as nobody
        let error = await #expect(throws: ReceiveError.self) {
            try await owner.receive { () throws(ReceiveError) in _ = try endpoint.openPartialArea(transferName) }
        }
        #expect(error?.kind == .accessDenied)
        #expect(error?.fileResultCode == 2)
        #expect(error?.message.contains("partial area") == true)
        let directory = await #expect(throws: ReceiveError.self) {
            try await owner.receive { () throws(ReceiveError) in _ = try endpoint.makeDirectory("d", in: nil) }
        }
        #expect(directory?.kind == .accessDenied)
        #expect(fixture.list("endpoint") == [])
        // And the endpoint check itself refuses: nobody does not own root's directory.
        await #expect(throws: (any Error).self) { _ = try await fixture.open(as: Self.nobody) }
    }
}
