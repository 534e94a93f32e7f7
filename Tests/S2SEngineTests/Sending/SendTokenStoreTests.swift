import Foundation
import Testing
@testable import S2SEngine

/// The sender's tokens and what move mode records with them: a source counts as unchanged only
/// against what the first offer of it under the same key recorded.
struct SendTokenStoreTests {
    private func openStore() throws -> SendTokenStore {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("s2s-db-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return SendTokenStore(database: try EndpointStore(path: folder.appendingPathComponent("s2s.sqlite").path).database)
    }

    private func source(_ path: String, size: UInt64 = 10, nanoseconds: UInt32 = 5) -> SourceTree.Source {
        SourceTree.Source(path: path, device: UInt64.max, inode: 42, size: size, mtimeSeconds: 1_700_000_000, mtimeNanoseconds: nanoseconds)
    }

    @Test func aSourceIsUnchangedOnlyAgainstItsFirstOffer() throws {
        let store = try openStore()
        let key = Data([7])
        #expect(try store.unchangedSinceFirstOffer(key: key, sources: [source("/a"), source("/b")]).isEmpty)
        #expect(try store.unchangedSinceFirstOffer(key: key, sources: [source("/a"), source("/b", size: 11)]) == ["/a"])
        // The first offer stays the reference: /b changed once, and stays changed.
        #expect(try store.unchangedSinceFirstOffer(key: key, sources: [source("/a", nanoseconds: 6), source("/b", size: 11)]).isEmpty)
        #expect(try store.unchangedSinceFirstOffer(key: Data([8]), sources: [source("/a")]).isEmpty)
    }

    @Test func forgettingTheTokenForgetsWhatWasOffered() throws {
        let store = try openStore()
        let key = Data([9])
        _ = try store.token(for: key, now: 1)
        _ = try store.unchangedSinceFirstOffer(key: key, sources: [source("/a")])
        #expect(try store.unchangedSinceFirstOffer(key: key, sources: [source("/a")]) == ["/a"])
        try store.forget(key: key)
        #expect(try store.token(for: key, now: 2).isRetry == false)
        #expect(try store.unchangedSinceFirstOffer(key: key, sources: [source("/a")]).isEmpty)
    }
}
