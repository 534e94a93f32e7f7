import S2SLinux
import Foundation
import Testing
@testable import S2SEngine

/// The receiving file-system layer as the current user (root in CI), through `UserContext` as the
/// daemon runs it: publishing, collisions, hostile paths, resume, the partial area, space.
@Suite(.serialized)
struct ReceiveDirectoryTests {
    let fixture: ReceiveFixture
    let me: UserContext

    init() throws {
        fixture = try ReceiveFixture()
        me = try UserContext.lookup(uid: getuid())
    }

    /// Receives `bytes` as entry `index` and publishes it as `name` in `directory`.
    static func receive(
        _ bytes: [UInt8], index: UInt32 = 0, name: String, in directory: ReceivePath? = nil, area: PartialArea,
        mode: UInt16 = 0o644, mtime: ReceiveTime = ReceiveTime(seconds: 1_700_000_000, nanoseconds: 500_000_000)
    ) throws(ReceiveError) -> ReceivePath {
        let file = try area.createFile(index: index, algorithm: .xxh3_128)
        try file.write(bytes, at: 0)
        var digest = try FileDigest(.xxh3_128)
        digest.update(bytes)
        try file.finish(expected: digest.finalize(), size: UInt64(bytes.count), offeredMode: mode, mtime: mtime)
        try area.sync([file])
        return try area.publish([PartialArea.PublishRequest(file: file, directory: directory, name: name)])[0].get().path
    }

    @Test func aFileIsPublishedWithItsModeAndMtime() async throws {
        defer { fixture.remove() }
        let endpoint = try await fixture.open()
        let path = try await me.receive { () throws(ReceiveError) in
            let area = try endpoint.openPartialArea(transferName)
            let file = try area.createFile(index: 7, algorithm: .xxh3_128)
            try file.write(Array("hel".utf8), at: 0)
            try file.write(Array("lo".utf8), at: 3)
            let digest = try file.finish(
                expected: FileDigest(.xxh3_128).finalizeAfter(Array("hello".utf8)), size: 5, offeredMode: 0o6777,
                mtime: ReceiveTime(seconds: 1_700_000_000, nanoseconds: 500_000_000))
            #expect(FileDigest.hex(digest) == "b5e9c1ad071b3e7fc779cfaa5e523818")
            try area.sync([file])
            return try area.publish([.init(file: file, directory: nil, name: "hello.txt")])[0].get()
        }
        #expect(path == PartialArea.Published(index: 7, path: try ReceivePath("hello.txt")))
        #expect(fixture.contents("endpoint/hello.txt") == Array("hello".utf8))
        let status = try #require(fixture.status("endpoint/hello.txt"))
        #expect(status.st_mode & 0o7777 == 0o755)  // setuid, setgid, sticky and group/other write dropped
        #expect(status.st_mtim.tv_sec == 1_700_000_000 && status.st_mtim.tv_nsec == 500_000_000)
        #expect(fixture.list("endpoint/.s2s-partial/\(transferName)") == [])
        #expect(try #require(fixture.status("endpoint/.s2s-partial")).st_mode & 0o7777 == 0o700)
        #expect(try #require(fixture.status("endpoint/.s2s-partial/\(transferName)")).st_mode & 0o7777 == 0o700)
    }

    /// Until data, digest and sync are done, the final name does not exist and publish refuses.
    @Test func nothingAppearsBeforeItIsVerifiedAndDurable() async throws {
        defer { fixture.remove() }
        let endpoint = try await fixture.open()
        try await me.receive { () throws(ReceiveError) in
            let area = try endpoint.openPartialArea(transferName)
            let file = try area.createFile(index: 0, algorithm: .sha256)
            try file.write(pattern(1000), at: 0)
            let early = area.publish([.init(file: file, directory: nil, name: "f")])
            #expect(throws: ReceiveError.self) { try early[0].get() }
            #expect(fixture.status("endpoint/f") == nil)
            // Verified but not yet durable: still refused.
            var digest = try FileDigest(.sha256)
            digest.update(pattern(1000))
            try file.finish(expected: digest.finalize(), size: 1000, offeredMode: 0o600, mtime: ReceiveTime(seconds: 0))
            #expect(throws: ReceiveError.self) { try area.publish([.init(file: file, directory: nil, name: "f")])[0].get() }
            #expect(fixture.status("endpoint/f") == nil)
            #expect(fixture.list("endpoint") == [".s2s-partial"])
            try area.sync([file])
            _ = try area.publish([.init(file: file, directory: nil, name: "f")])[0].get()
            #expect(fixture.contents("endpoint/f") == pattern(1000))
        }
    }

    /// A wrong digest or a short file: FILE_RESULT 1 or 2, the file can never be published.
    @Test func aWrongDigestOrSizeIsRefused() async throws {
        defer { fixture.remove() }
        let endpoint = try await fixture.open()
        try await me.receive { () throws(ReceiveError) in
            let area = try endpoint.openPartialArea(transferName)
            let bad = try area.createFile(index: 0, algorithm: .xxh3_128)
            try bad.write(Array("hellO".utf8), at: 0)
            let mismatch = #expect(throws: ReceiveError.self) {
                try bad.finish(expected: try xxh3(Array("hello".utf8)), size: 5, offeredMode: 0o644, mtime: ReceiveTime(seconds: 0))
            }
            #expect(mismatch?.kind == .integrity && mismatch?.fileResultCode == 1)
            #expect(bad.phase == .failed)
            #expect(throws: ReceiveError.self) { try area.sync([bad]) }

            let short = try area.createFile(index: 1, algorithm: .xxh3_128)
            try short.write(Array("hell".utf8), at: 0)
            let wrongSize = #expect(throws: ReceiveError.self) {
                try short.finish(expected: try xxh3(Array("hell".utf8)), size: 5, offeredMode: 0o644, mtime: ReceiveTime(seconds: 0))
            }
            #expect(wrongSize?.fileResultCode == 2)
            // Data must be contiguous.
            let gap = try area.createFile(index: 2, algorithm: .xxh3_128)
            #expect(throws: ReceiveError.self) { try gap.write([1], at: 1) }
            let results = area.publish([.init(file: bad, directory: nil, name: "x"), .init(file: short, directory: nil, name: "y")])
            #expect(results.allSatisfy { if case .failure = $0 { true } else { false } })
        }
        #expect(fixture.list("endpoint") == [".s2s-partial"])
    }

    /// Existing files, directories and symbolic links (even dangling ones pointing outside) are
    /// never replaced: the new file gets the first free suffix.
    @Test func collisionsGetSuffixesAndOverwriteNothing() async throws {
        defer { fixture.remove() }
        try fixture.write("endpoint/a.txt", "first")
        try fixture.write("endpoint/a (1).txt", "second")
        try FileManager.default.createDirectory(atPath: fixture.endpoint + "/dir", withIntermediateDirectories: false)
        try fixture.symlink("endpoint/b", to: fixture.outside + "/b")
        try fixture.symlink("endpoint/.profile", to: fixture.outside + "/profile")
        let endpoint = try await fixture.open()
        let paths = try await me.receive { () throws(ReceiveError) in
            let area = try endpoint.openPartialArea(transferName)
            return [
                try Self.receive(Array("third".utf8), index: 0, name: "a.txt", area: area),
                try Self.receive(Array("fourth".utf8), index: 1, name: "a.txt", area: area),
                try Self.receive(Array("link".utf8), index: 2, name: "b", area: area),
                try Self.receive(Array("dot".utf8), index: 3, name: ".profile", area: area),
                try Self.receive(Array("dir".utf8), index: 4, name: "dir", area: area),
            ].map(\.description)
        }
        #expect(paths == ["a (2).txt", "a (3).txt", "b (1)", ".profile (1)", "dir (1)"])
        #expect(fixture.contents("endpoint/a.txt") == Array("first".utf8))
        #expect(fixture.contents("endpoint/a (1).txt") == Array("second".utf8))
        #expect(fixture.contents("endpoint/a (2).txt") == Array("third".utf8))
        #expect(fixture.contents("endpoint/a (3).txt") == Array("fourth".utf8))
        #expect(fixture.list("outside") == [])
        #expect(fixture.list("endpoint/dir") == [])
    }

    /// Suffixed names stay within 255 bytes and keep whole characters.
    @Test func longNamesStayValidWithASuffix() {
        let long = String(repeating: "é", count: 125) + ".txt"  // 254 bytes
        let candidate = CollisionName.candidate(long, attempt: 12)
        #expect(candidate.utf8.count <= 255)
        #expect(candidate.hasSuffix(" (12).txt"))
        #expect((try? ReceivePath.check(component: candidate)) != nil)
        let longExtension = "a." + String(repeating: "x", count: 253)
        #expect(CollisionName.candidate(longExtension, attempt: 3).utf8.count <= 255)
        #expect(CollisionName.candidate("archive.tar.gz", attempt: 1) == "archive.tar (1).gz")
        #expect(CollisionName.candidate("README", attempt: 2) == "README (2)")
    }

    /// Paths that could leave the endpoint are refused before the kernel sees them.
    @Test(arguments: ["", "..", "a/../b", "/etc/passwd", "a//b", "a/", ".", "a\u{0}b", "a\u{1b}b", ".s2s-partial", ".s2s-partial/x"])
    func hostilePathsAreRefused(_ path: String) {
        let error = #expect(throws: ReceiveError.self) { try ReceivePath(path) }
        #expect(error?.kind == .invalidPath)
        #expect(error?.refuseCode == 8)
        // The check an offer's files get, which keeps nothing, refuses the same.
        let checked = #expect(throws: ReceiveError.self) { try ReceivePath.check(offered: path) }
        #expect(checked?.message == error?.message)
    }

    @Test(arguments: ["a", "a/b/c", "é/ü ✓.txt", "x/.s2s-partial", ".s2s-partialx", String(repeating: "d/", count: 100) + "f"])
    func ordinaryPathsPassBothChecks(_ path: String) throws {
        try ReceivePath.check(offered: path)
        #expect(try ReceivePath(path).description == path)
    }

    /// Symbolic links planted in the endpoint are never followed: not at a directory component,
    /// not at the final name, not as the partial area; `..` and absolute paths handed to the
    /// kernel anyway are refused by `openat2`.
    @Test func plantedSymlinksAndEscapesCannotReachOutside() async throws {
        defer { fixture.remove() }
        try fixture.symlink("endpoint/link", to: fixture.outside)
        try fixture.symlink("endpoint/up", to: "..")
        let endpoint = try await fixture.open()
        try await me.receive { () throws(ReceiveError) in
            let area = try endpoint.openPartialArea(transferName)
            // A directory component that is a symbolic link.
            let viaLink = try ReceivePath("link")
            #expect(throws: ReceiveError.self) { try endpoint.makeDirectory("x", in: viaLink) }
            #expect(throws: ReceiveError.self) { try Self.receive([1], index: 0, name: "f", in: viaLink, area: area) }
            #expect(throws: ReceiveError.self) { try Self.receive([1], index: 1, name: "f", in: try ReceivePath("up/outside"), area: area) }
            // The offered directory "link" becomes a real directory beside the link.
            let made = try endpoint.makeDirectory("link", in: nil)
            #expect(made.description == "link (1)")
            _ = try Self.receive([2], index: 2, name: "f", in: made, area: area)
            // What the kernel refuses when the checks above were bypassed.
            for escape in ["..", "../outside", "link/", "up/outside", "/tmp", "\(fixture.outside)"] {
                let error = #expect(throws: ReceiveError.self) {
                    close(try Beneath.open(endpoint.fd, escape, flags: O_RDONLY | O_DIRECTORY, what: escape))
                }
                #expect(error?.kind == .invalidPath)
            }
            // The kernel itself, without the relative-path guard of `Beneath`.
            #expect(Linux.openat2(endpoint.fd, fixture.outside, flags: O_RDONLY, resolve: Beneath.resolve) == -1 && errno == EXDEV)
            #expect(Linux.openat2(endpoint.fd, "../outside", flags: O_RDONLY, resolve: Beneath.resolve) == -1 && errno == EXDEV)
        }
        #expect(fixture.list("outside") == [])
        #expect(fixture.contents("endpoint/link (1)/f") == [2])
    }

    /// A symbolic link where the partial area belongs is refused, not followed.
    @Test func aPlantedPartialAreaLinkIsRefused() async throws {
        defer { fixture.remove() }
        try fixture.symlink("endpoint/.s2s-partial", to: fixture.outside)
        let endpoint = try await fixture.open()
        let error = await #expect(throws: ReceiveError.self) {
            try await me.receive { () throws(ReceiveError) in _ = try endpoint.openPartialArea(transferName) }
        }
        #expect(error?.kind == .invalidPath)
        #expect(fixture.list("outside") == [])
        #expect(throws: ReceiveError.self) { try endpoint.openPartialArea("../../outside/aaaaaaaaaaaaaaaaaaaaaaa") }
    }

    /// Offered directories: made beneath, a real existing one reused, a file in the way gets a
    /// suffix; the final mode and mtime are applied afterwards.
    @Test func directoriesAreMadeReusedOrSuffixed() async throws {
        defer { fixture.remove() }
        try fixture.write("endpoint/d", "a file in the way")
        try FileManager.default.createDirectory(atPath: fixture.endpoint + "/e", withIntermediateDirectories: false)
        try fixture.write("endpoint/e/old", "kept")
        let endpoint = try await fixture.open()
        let (d, e, nested) = try await me.receive { () throws(ReceiveError) in
            let d = try endpoint.makeDirectory("d", in: nil)
            let e = try endpoint.makeDirectory("e", in: nil)
            let nested = try endpoint.makeDirectory("ü n", in: d)
            let area = try endpoint.openPartialArea(transferName)
            _ = try Self.receive(Array("x".utf8), index: 0, name: "x", in: nested, area: area)
            _ = try Self.receive(Array("new".utf8), index: 1, name: "old", in: e, area: area)
            try endpoint.finishDirectory(nested, offeredMode: 0o777, mtime: ReceiveTime(seconds: 1_000_000_000))
            try endpoint.finishDirectory(d, offeredMode: 0o500, mtime: ReceiveTime(seconds: -5))
            return (d.description, e.description, nested.description)
        }
        #expect(d == "d (1)" && e == "e" && nested == "d (1)/ü n")
        #expect(fixture.contents("endpoint/d") == Array("a file in the way".utf8))
        #expect(fixture.contents("endpoint/d (1)/ü n/x") == Array("x".utf8))
        #expect(fixture.contents("endpoint/e/old") == Array("kept".utf8))
        #expect(fixture.contents("endpoint/e/old (1)") == Array("new".utf8))
        let nestedStatus = try #require(fixture.status("endpoint/d (1)/ü n"))
        #expect(nestedStatus.st_mode & 0o7777 == 0o755 && nestedStatus.st_mtim.tv_sec == 1_000_000_000)
        let dStatus = try #require(fixture.status("endpoint/d (1)"))
        #expect(dStatus.st_mode & 0o7777 == 0o700 && dStatus.st_mtim.tv_sec == -5)
    }

    /// Verified files whose descriptors a large batch closed are made durable by a sync of the
    /// file system, however few they are, and published.
    @Test func filesWithoutDescriptorsAreSyncedByTheFileSystem() async throws {
        defer { fixture.remove() }
        let endpoint = try await fixture.open()
        let results = try await me.receive { () throws(ReceiveError) in
            let area = try endpoint.openPartialArea(transferName)
            var requests: [PartialArea.PublishRequest] = []
            for index in 0..<2 {
                let file = try area.createFile(index: UInt32(index), algorithm: .xxh3_128)
                let bytes = pattern(index * 10 + 1)
                try file.write(bytes, at: 0)
                try file.finish(expected: try xxh3(bytes), size: UInt64(bytes.count), offeredMode: 0o644, mtime: ReceiveTime(seconds: 0))
                file.closeDescriptor()
                requests.append(.init(file: file, directory: nil, name: "f\(index)"))
            }
            try area.sync(requests.map(\.file))
            return area.publish(requests)
        }
        #expect(try results.map { try $0.get().path.description } == ["f0", "f1"])
        #expect(fixture.contents("endpoint/f1") == pattern(11))
    }

    /// Directories made and finished (neither syncs) are synced together afterwards, an
    /// `fsync` of each for a few, one `syncfs` for many; a directory that went in between fails
    /// the per-directory sync instead of being skipped.
    @Test(arguments: [2, PartialArea.fileSystemThreshold + 1])
    func directoriesAreSyncedTogether(count: Int) async throws {
        defer { fixture.remove() }
        let endpoint = try await fixture.open()
        let made = try await me.receive { () throws(ReceiveError) in
            let top = try endpoint.makeDirectory("top", in: nil)
            var made = [top]
            for number in 1..<count { made.append(try endpoint.makeDirectory("d\(number)", in: top)) }
            try endpoint.sync(Set(made.map(\.parent)))
            for path in made.reversed() {
                try endpoint.finishDirectory(path, offeredMode: 0o750, mtime: ReceiveTime(seconds: 1_000_000))
            }
            try endpoint.sync(Set(made))
            return made.map(\.description)
        }
        #expect(made.count == count)
        for path in made {
            let status = try #require(fixture.status("endpoint/" + path))
            #expect(status.st_mode & 0o7777 == 0o750 && status.st_mtim.tv_sec == 1_000_000)
        }
        try FileManager.default.removeItem(atPath: fixture.endpoint + "/top/d1")
        await #expect(throws: ReceiveError.self) {
            try await me.receive { () throws(ReceiveError) in try endpoint.sync([try ReceivePath("top/d1")]) }
        }
    }

    /// A resumed file is cut back to the verified offset, and its digest covers the prefix read
    /// back from the partial file plus the new data.
    @Test(arguments: [FileDigest.Algorithm.xxh3_128, .sha256])
    func resumeTruncatesAndTheDigestCoversThePrefix(_ algorithm: FileDigest.Algorithm) async throws {
        defer { fixture.remove() }
        let endpoint = try await fixture.open()
        let data = pattern(3 << 20 + 123)
        try await me.receive { () throws(ReceiveError) in
            // First session: 2 MiB + 77 arrive, but only 1 MiB + 5 were recorded as verified.
            do {
                let area = try endpoint.openPartialArea(transferName)
                let file = try area.createFile(index: 3, algorithm: algorithm)
                try file.write(Array(data[..<(2 << 20 + 77)]), at: 0)
            }
            let area = try endpoint.openPartialArea(transferName)
            let before = try area.partialLength(index: 3)
            #expect(before == UInt64(2 << 20 + 77))
            #expect(throws: ReceiveError.self) { try area.resumeFile(index: 3, at: UInt64(3 << 20), algorithm: algorithm) }
            #expect(throws: ReceiveError.self) { try area.resumeFile(index: 4, at: 0, algorithm: algorithm) }
            let offset = 1 << 20 + 5
            let file = try area.resumeFile(index: 3, at: UInt64(offset), algorithm: algorithm)
            #expect(file.length == UInt64(offset))
            let after = try area.partialLength(index: 3)
            #expect(after == UInt64(offset))
            #expect(throws: ReceiveError.self) { try file.write([0], at: 0) }
            try file.write(Array(data[offset...]), at: UInt64(offset))
            var whole = try FileDigest(algorithm)
            whole.update(data)
            try file.finish(expected: whole.finalize(), size: UInt64(data.count), offeredMode: 0o644, mtime: ReceiveTime(seconds: 0))
            try area.sync([file])
            _ = try area.publish([.init(file: file, directory: nil, name: "big.bin")])[0].get()
        }
        #expect(fixture.contents("endpoint/big.bin") == data)
    }

    /// Partial files are kept `groupSize` to a directory: publishing removes a group it empties
    /// and leaves one that still holds a file, and a create into a group removed under the area's
    /// open copy of it makes the group again.
    @Test func groupsAreMadeAndRemovedAsFilesComeAndGo() async throws {
        defer { fixture.remove() }
        let endpoint = try await fixture.open()
        let size = PartialArea.groupSize
        let partial = "endpoint/.s2s-partial/\(transferName)"
        let kept = try await me.receive { () throws(ReceiveError) in
            let area = try endpoint.openPartialArea(transferName)
            var requests: [PartialArea.PublishRequest] = []
            for slot in [size, size + 1, 0, 1] {
                let file = try area.createFile(index: slot, algorithm: .xxh3_128)
                let bytes = pattern(Int(slot) + 10)
                try file.write(bytes, at: 0)
                try file.finish(expected: try xxh3(bytes), size: UInt64(bytes.count), offeredMode: 0o644, mtime: ReceiveTime(seconds: 0))
                requests.append(.init(file: file, directory: nil, name: "f\(slot)"))
            }
            #expect(fixture.list(partial) == ["g0", "g1"])
            #expect(fixture.list(partial + "/g1") == ["\(size)", "\(size + 1)"])
            try area.sync(requests.map(\.file))
            for result in area.publish([requests[2], requests[3], requests[0]]) { _ = try result.get() }
            #expect(fixture.list(partial) == ["g1"])
            #expect(fixture.list(partial + "/g1") == ["\(size + 1)"])
            // The area created its last file in g0, which publishing has just removed.
            _ = try area.createFile(index: 2, algorithm: .xxh3_128)
            return try area.partialLength(index: size + 1)
        }
        #expect(kept == 11 + UInt64(size))
        #expect(fixture.list(partial) == ["g0", "g1"])
        #expect(fixture.list(partial + "/g0") == ["2"])
        #expect(fixture.list("endpoint").sorted() == [".s2s-partial", "f0", "f1", "f\(size)"])
    }

    /// A partial file that an earlier version kept at the top of the transfer's directory (before
    /// groups) is found, continued in its group and published: an upgrade loses no resume point.
    @Test func aPartialFileOfTheEarlierLayoutIsResumed() async throws {
        defer { fixture.remove() }
        let endpoint = try await fixture.open()
        let data = pattern(100_000)
        try await me.receive { () throws(ReceiveError) in _ = try endpoint.openPartialArea(transferName) }
        let flat = fixture.endpoint + "/.s2s-partial/\(transferName)/70"
        #expect(FileManager.default.createFile(atPath: flat, contents: Data(data[..<60_000])))
        try await me.receive { () throws(ReceiveError) in
            let area = try endpoint.openPartialArea(transferName)
            #expect(try area.partialLength(index: 70) == 60_000)
            let file = try area.resumeFile(index: 70, at: 50_000, algorithm: .xxh3_128)
            #expect(try area.partialLength(index: 70) == 50_000)
            try file.write(Array(data[50_000...]), at: 50_000)
            try file.finish(expected: try xxh3(data), size: UInt64(data.count), offeredMode: 0o644, mtime: ReceiveTime(seconds: 0))
            try area.sync([file])
            _ = try area.publish([.init(file: file, directory: nil, name: "old.bin")])[0].get()
            #expect(try area.partialLength(index: 70) == nil)
        }
        #expect(fixture.contents("endpoint/old.bin") == data)
        #expect(fixture.list("endpoint/.s2s-partial/\(transferName)") == [])
    }

    /// Batches of files become durable together by either strategy and are all published, into
    /// a few directories (each synced) or many (one `syncfs`).
    @Test(arguments: [PartialArea.SyncStrategy.eachFile, .fileSystem, .automatic], [2, PartialArea.fileSystemThreshold + 1])
    func batchesAreSyncedAndPublished(_ strategy: PartialArea.SyncStrategy, directoryCount: Int) async throws {
        defer { fixture.remove() }
        let endpoint = try await fixture.open()
        // Directory 0 is the top of the endpoint.
        @Sendable func directoryName(_ index: Int) -> String? { index % directoryCount == 0 ? nil : "tree\(index % directoryCount)" }
        let results = try await me.receive { () throws(ReceiveError) in
            let area = try endpoint.openPartialArea(transferName)
            var directories: [String: ReceivePath] = [:]
            for number in 1..<directoryCount { directories["tree\(number)"] = try endpoint.makeDirectory("tree\(number)", in: nil) }
            var requests: [PartialArea.PublishRequest] = []
            for index in 0..<50 {
                let file = try area.createFile(index: UInt32(index), algorithm: .xxh3_128)
                let bytes = pattern(index * 100)
                try file.write(bytes, at: 0)
                try file.finish(expected: try xxh3(bytes), size: UInt64(bytes.count), offeredMode: 0o644, mtime: ReceiveTime(seconds: 0))
                requests.append(.init(file: file, directory: directoryName(index).flatMap { directories[$0] }, name: "f\(index)"))
            }
            try area.sync(requests.map(\.file), strategy: strategy)
            return area.publish(requests)
        }
        #expect(results.count == 50)
        for (index, result) in results.enumerated() {
            let path = try result.get().path.description
            #expect(path == (directoryName(index).map { "\($0)/f\(index)" } ?? "f\(index)"))
            #expect(fixture.contents("endpoint/" + path) == pattern(index * 100))
        }
    }

    /// Abandoned partial data is listed with its time and removed entirely, without following a
    /// symbolic link planted inside it.
    @Test func thePartialAreaIsListedAndRemoved() async throws {
        defer { fixture.remove() }
        try fixture.write("outside/precious", "keep")
        let endpoint = try await fixture.open()
        let other = "0123456789abcdef0123456789abcdef"
        try await me.receive { () throws(ReceiveError) in
            let area = try endpoint.openPartialArea(transferName)
            _ = try area.createFile(index: 0, algorithm: .xxh3_128)
            _ = try endpoint.openPartialArea(other)
        }
        try fixture.symlink("endpoint/.s2s-partial/\(transferName)/1", to: fixture.outside + "/precious")
        try fixture.symlink("endpoint/.s2s-partial/\(transferName)/2", to: fixture.outside)
        try FileManager.default.createDirectory(
            atPath: fixture.endpoint + "/.s2s-partial/\(transferName)/sub/deeper", withIntermediateDirectories: true)
        try fixture.write("endpoint/.s2s-partial/\(transferName)/sub/deeper/f", "x")
        try fixture.write("endpoint/.s2s-partial/not-a-transfer", "left alone")
        let listed = try await me.receive { () throws(ReceiveError) in try endpoint.partialAreas() }
        #expect(listed.map(\.name) == [other, transferName])
        #expect(listed.allSatisfy { abs(Double($0.mtime.seconds) - Date().timeIntervalSince1970) < 60 })
        try await me.receive { () throws(ReceiveError) in
            try endpoint.removePartialArea(transferName)
            try endpoint.removePartialArea(transferName)  // nothing left: not an error
            #expect(throws: ReceiveError.self) { try endpoint.removePartialArea("../outside") }
        }
        #expect(fixture.list("endpoint/.s2s-partial") == [other, "not-a-transfer"])
        #expect(fixture.contents("outside/precious") == Array("keep".utf8))
        #expect(fixture.list("outside") == ["precious"])
        let remaining = try await me.receive { () throws(ReceiveError) in try endpoint.partialAreas().map(\.name) }
        #expect(remaining == [other])
    }

    /// The reserve and the quota are checked before writing; the codes are the protocol's.
    @Test func spaceAndQuotaAreChecked() async throws {
        defer { fixture.remove() }
        let endpoint = try await fixture.open()
        try await me.receive { () throws(ReceiveError) in
            let available = try endpoint.availableBytes()
            #expect(available > 0)
            try endpoint.checkSpace(adding: 0, reserve: 0)
            try endpoint.checkSpace(adding: available / 2, reserve: available / 4)
            let full = #expect(throws: ReceiveError.self) { try endpoint.checkSpace(adding: available / 2, reserve: available / 2 + 4096) }
            #expect(full?.kind == .insufficientSpace && full?.refuseCode == 3 && full?.fileResultCode == 4)
            #expect(throws: ReceiveError.self) { try endpoint.checkSpace(adding: 0, reserve: UInt64.max) }
        }
        try ReceiveDirectory.checkQuota(used: 10, adding: 90, quota: 100)
        try ReceiveDirectory.checkQuota(used: .max, adding: .max, quota: nil)
        let over = #expect(throws: ReceiveError.self) { try ReceiveDirectory.checkQuota(used: 10, adding: 91, quota: 100) }
        #expect(over?.kind == .quotaExceeded && over?.refuseCode == 2 && over?.fileResultCode == 3)
        #expect(throws: ReceiveError.self) { try ReceiveDirectory.checkQuota(used: .max, adding: 1, quota: .max) }
        #expect(ReceiveError.system(EDQUOT, "write").fileResultCode == 3)
        #expect(ReceiveError.system(ENOSPC, "write").fileResultCode == 4)
        #expect(ReceiveError.system(EIO, "write").fileResultCode == 2)
    }
}

extension FileDigest {
    /// The digest of `bytes` alone (for test expectations).
    consuming func finalizeAfter(_ bytes: [UInt8]) -> [UInt8] {
        update(bytes)
        return finalize()
    }
}
