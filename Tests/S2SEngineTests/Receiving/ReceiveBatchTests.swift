import Foundation
import S2SProtocol
import Testing
@testable import S2SEngine

/// When a batch of verified files is due, and how many descriptors it keeps open.
struct ReceiveBatchTests {
    /// A partial file on `/dev/null`, as if verified.
    private func verifiedFile(_ index: UInt32) throws -> PartialFile {
        let fd = open("/dev/null", O_RDWR | O_CLOEXEC)
        try #require(fd >= 0)
        return PartialFile(index: index, fd: fd, digest: try FileDigest(.xxh3_128), length: 0)
    }

    /// Below `PartialArea.fileSystemThreshold` verified files each keeps its descriptor (each may
    /// be synced on its own); from there on none does (one `syncfs` makes them durable), so that
    /// a batch of any size holds few descriptors.
    @Test func verifiedFilesLoseTheirDescriptorsFromTheThresholdOn() throws {
        var batch = ReceiveBatch()
        var files: [PartialFile] = []
        for index in 0..<UInt32(PartialArea.fileSystemThreshold - 1) {
            files.append(try verifiedFile(index))
            batch.add(verified: files[Int(index)], index: index, size: 1)
        }
        batch.add(index: 100, code: .integrity)
        #expect(files.allSatisfy { $0.fd >= 0 })
        for index in UInt32(PartialArea.fileSystemThreshold - 1)..<UInt32(ReceiveBatch.batchFiles) {
            files.append(try verifiedFile(index))
            batch.add(verified: files[Int(index)], index: index, size: 1)
        }
        #expect(files.allSatisfy { $0.fd == -1 })
        #expect(batch.pending.count == ReceiveBatch.batchFiles + 1)
        #expect(batch.isDue(now: .now))
    }

    /// A batch is due at its file count, at its bytes, or once its oldest result has waited.
    @Test func aBatchIsDueAtItsCountBytesOrAge() throws {
        var byCount = ReceiveBatch()
        for index in 0..<UInt32(ReceiveBatch.batchFiles - 1) { byCount.add(index: index, code: .ok) }
        #expect(!byCount.isDue(now: .now))
        byCount.add(index: 9999, code: .ok)
        #expect(byCount.isDue(now: .now))

        var byBytes = ReceiveBatch()
        byBytes.add(verified: try verifiedFile(0), index: 0, size: ReceiveBatch.batchBytes)
        #expect(byBytes.isDue(now: .now))

        var byAge = ReceiveBatch()
        byAge.add(index: 0, code: .ok)
        #expect(!byAge.isDue(now: .now))
        #expect(byAge.isDue(now: .now + ReceiveBatch.batchDelay))
        #expect(ReceiveBatch().isDue(now: .now + .seconds(3600)) == false)
    }
}
