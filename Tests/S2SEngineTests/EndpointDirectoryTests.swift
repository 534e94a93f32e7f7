import Foundation
import Testing
@testable import S2SEngine

/// Directory checks, run through `UserContext` as the real code does.
@Suite(.serialized)
struct EndpointDirectoryTests {
    let root: String

    init() throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("s2s-dir-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root + "/in", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: root + "/private", withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: root + "/file", contents: Data()))
        try FileManager.default.createSymbolicLink(atPath: root + "/link", withDestinationPath: root + "/in")
        #expect(chmod(root, 0o755) == 0)
        #expect(chmod(root + "/private", 0o700) == 0)
    }

    func check(_ path: String, as uid: uid_t) async throws(EngineError) -> EndpointDirectory {
        let user = try UserContext.lookup(uid: uid)
        return try await user.run { () throws(EngineError) in try EndpointDirectory.check(path, owner: uid) }
    }

    @Test func aDirectoryOfTheCallerIsAccepted() async throws {
        let directory = try await check(root + "/in/", as: getuid())
        #expect(directory.path == root + "/in")
        var status = stat()
        #expect(stat(root + "/in", &status) == 0)
        #expect(directory.inode == UInt64(status.st_ino))
    }

    /// Named cases; the long and NUL paths are built in the body to keep test output readable.
    @Test(arguments: ["", "relative/path", "/nonexistent/dir", "/file", "/link", "/link/", "NUL", "LONG"])
    func badPathsAreInvalid(_ suffix: String) async {
        let path: String =
            switch suffix {
            case "NUL": root + "/in/\u{0}x"
            case "LONG": root + "/" + String(repeating: "a", count: 5000)
            case let other where other.hasPrefix("/"): root + other
            default: suffix
            }
        let error = await #expect(throws: EngineError.self) { try await check(path, as: getuid()) }
        #expect(error?.kind == .invalidPath)
    }

    /// `nobody` may not use root's directories, and cannot even reach a private one: the kernel
    /// decides, because the check runs with nobody's file-system identity.
    @Test func anotherUserIsRefused() async throws {
        guard getuid() == 0 else { return }
        let nobody: uid_t = 65534
        let owned = await #expect(throws: EngineError.self) { try await check(root + "/in", as: nobody) }
        #expect(owned?.kind == .accessDenied)
        #expect(owned?.message.contains("not owned by you") == true)
        let unreachable = await #expect(throws: EngineError.self) { try await check(root + "/private/../in", as: nobody) }
        #expect(unreachable?.kind == .accessDenied)
        #expect(unreachable?.message.contains("permission denied") == true)
    }
}
