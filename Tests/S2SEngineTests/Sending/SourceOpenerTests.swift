import Foundation
import Testing
@testable import S2SEngine

/// The sender's opening of source files ahead: several per hop within both bounds, each
/// descriptor the file scanned, a file changed since the scan refused, and nothing left open.
struct SourceOpenerTests {
    /// A directory of `sizes.count` files named 00, 01, ... of those sizes, scanned as the
    /// current user; the files in offer order.
    static func scannedFiles(_ sizes: [Int]) throws -> (top: URL, files: [SourceTree.Source]) {
        let top = FileManager.default.temporaryDirectory.appendingPathComponent("s2s-opener-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: top, withIntermediateDirectories: true)
        for (index, size) in sizes.enumerated() {
            try Data(repeating: UInt8(index), count: size).write(to: top.appendingPathComponent(String(format: "%02d", index)))
        }
        let tree = try SourceTree.scan([top.path], followSymlinks: false, maxEntries: 1000)
        return (top, tree.sources.compactMap { $0 }.sorted { $0.path < $1.path })
    }

    static func worker() throws -> UserWorker {
        try UserWorker(UserContext.lookup(uid: getuid()))
    }

    /// The first byte of the file behind `fd`, which says which file it is.
    static func firstByte(_ fd: Int32) -> UInt8? {
        var byte: UInt8 = 0
        return pread(fd, &byte, 1, 0) == 1 ? byte : nil
    }

    @Test func smallFilesAreOpenedSixteenAtATime() async throws {
        let (top, files) = try Self.scannedFiles(Array(repeating: 100, count: 40))
        defer { try? FileManager.default.removeItem(at: top) }
        let opener = SourceOpener(files: files, worker: try Self.worker(), followSymlinks: false)
        for index in files.indices {
            let fd = try #require(await opener.take(index))
            #expect(Self.firstByte(fd) == UInt8(index))
            close(fd)
            // One hop opens the file asked for and the next 15; the 17th asks again.
            #expect(opener.heldAhead == min(SourceOpener.openAhead - 1 - index % SourceOpener.openAhead, files.count - 1 - index))
        }
    }

    @Test func filesBehindALargeOneAreOpenedWhenTheirTurnComes() async throws {
        let half = Int(SourceOpener.aheadBytes) / 2
        let (top, files) = try Self.scannedFiles([100, half, half, 100, Int(SourceOpener.aheadBytes), 100])
        defer { try? FileManager.default.removeItem(at: top) }
        let opener = SourceOpener(files: files, worker: try Self.worker(), followSymlinks: false)
        // 100 bytes and half the bound fit together; the next half would pass it.
        let first = try #require(await opener.take(0))
        close(first)
        #expect(opener.heldAhead == 1)
        let second = try #require(await opener.take(1))
        close(second)
        #expect(opener.heldAhead == 0)
        // Half and 100 bytes fit; the file of the whole bound is opened alone, and so is the one after it.
        for index in 2..<files.count {
            let fd = try #require(await opener.take(index))
            #expect(Self.firstByte(fd) == UInt8(index))
            close(fd)
            #expect(opener.heldAhead == (index == 2 ? 1 : 0))
        }
    }

    @Test func aFileChangedSinceTheScanIsNotOpened() async throws {
        let (top, files) = try Self.scannedFiles([10, 10, 10])
        defer { try? FileManager.default.removeItem(at: top) }
        // Replaced by another file of the same name (another size: the file system may give the
        // new file the old one's inode number), and removed.
        let second = top.appendingPathComponent("01")
        try FileManager.default.removeItem(at: second)
        try Data(repeating: 9, count: 11).write(to: second)
        try FileManager.default.removeItem(at: top.appendingPathComponent("02"))
        let opener = SourceOpener(files: files, worker: try Self.worker(), followSymlinks: false)
        let first = try #require(await opener.take(0))
        close(first)
        #expect(await opener.take(1) == nil)
        #expect(await opener.take(2) == nil)
    }

    @Test func whatWasNotTakenIsClosed() async throws {
        let (top, files) = try Self.scannedFiles([10, 10, 10])
        defer { try? FileManager.default.removeItem(at: top) }
        var opener: SourceOpener? = SourceOpener(files: files, worker: try Self.worker(), followSymlinks: false)
        let first = try #require(await opener?.take(0))
        close(first)
        #expect(opener?.heldAhead == 2)
        // The descriptors opened ahead name the files scanned; once the opener goes, none does.
        let open = { Self.descriptors(naming: files.dropFirst().map(\.path)) }
        #expect(open() == 2)
        opener = nil
        #expect(open() == 0)
    }

    /// How many of this process's descriptors name one of `paths`.
    static func descriptors(naming paths: [String]) -> Int {
        let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        return fds.filter { fd in
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(fd)")).map(paths.contains) ?? false
        }.count
    }
}
