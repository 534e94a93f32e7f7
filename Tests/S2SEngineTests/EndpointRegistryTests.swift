import Foundation

import S2SCore
import Testing
@testable import S2SEngine

struct EndpointRegistryTests {
    let directory = EndpointDirectory(path: "/srv/in", device: 1, inode: 2)

    func temporaryDatabase() throws -> String {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("s2s-db-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder.appendingPathComponent("s2s.sqlite").path
    }

    @Test func endpointsSurviveReopeningTheStore() async throws {
        let path = try temporaryDatabase()
        let created: Endpoint
        do {
            let registry = try EndpointRegistry(store: try EndpointStore(path: path), maxEndpointsPerUser: 10)
            created = try await registry.create(
                owner: 1000, directory: directory, options: EndpointOptions(quota: 5, lifetime: 60, maxUses: 1), now: 1_000_000)
        }
        let reopened = try EndpointRegistry(store: try EndpointStore(path: path), maxEndpointsPerUser: 10)
        let found = await reopened.endpoint(id: created.id)
        #expect(found == created)
        #expect(found?.expires == 61_000_000)
        #expect(found?.privateKey.count == 32)
    }

    @Test func usersSeeOnlyTheirOwnAndRootSeesAll() async throws {
        let registry = try EndpointRegistry(store: try EndpointStore(path: try temporaryDatabase()), maxEndpointsPerUser: 10)
        let ann = try await registry.create(owner: 1000, directory: directory, options: EndpointOptions(), now: 1)
        let bob = try await registry.create(owner: 1001, directory: directory, options: EndpointOptions(), now: 1)
        #expect(ann.id != bob.id)
        #expect(ann.number != bob.number)
        #expect(await registry.endpoints(in: .owner(1000)) == [ann])
        #expect(await registry.endpoints(in: .owner(1001)) == [bob])
        #expect(await registry.endpoints(in: .everyone).count == 2)
    }

    @Test func theLimitPerUserHolds() async throws {
        let registry = try EndpointRegistry(store: try EndpointStore(path: try temporaryDatabase()), maxEndpointsPerUser: 2)
        for _ in 0..<2 { _ = try await registry.create(owner: 1000, directory: directory, options: EndpointOptions(), now: 1) }
        let error = await #expect(throws: EngineError.self) {
            try await registry.create(owner: 1000, directory: directory, options: EndpointOptions(), now: 1)
        }
        #expect(error?.kind == .limitExceeded)
        _ = try await registry.create(owner: 1001, directory: directory, options: EndpointOptions(), now: 1)
    }

    @Test func expiredEndpointsAreRemovedAndNumbersAreNeverReused() async throws {
        let path = try temporaryDatabase()
        let registry = try EndpointRegistry(store: try EndpointStore(path: path), maxEndpointsPerUser: 10)
        let short = try await registry.create(owner: 1000, directory: directory, options: EndpointOptions(lifetime: 1), now: 0)
        let long = try await registry.create(owner: 1000, directory: directory, options: EndpointOptions(lifetime: 100), now: 0)
        #expect(await registry.nextExpiry == 1_000_000)
        #expect(try await registry.removeExpired(now: 999_999).isEmpty)
        #expect(try await registry.removeExpired(now: 1_000_000) == [short])
        #expect(await registry.nextExpiry == 100_000_000)
        try await registry.remove(long)
        let next = try await registry.create(owner: 1000, directory: directory, options: EndpointOptions(), now: 0)
        #expect(next.number > long.number)
        #expect(try EndpointStore(path: path).loadAll().endpoints == [next])
    }
}
