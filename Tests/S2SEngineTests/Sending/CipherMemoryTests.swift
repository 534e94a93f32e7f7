import Foundation
import Logging
import S2SProtocol
import S2SSQLite
import Testing
@testable import S2SEngine

/// Which endpoints a sender announces AES-GCM to.
struct CipherMemoryTests {
    private let aesHello = Hello(flags: Hello.Feature.all | Hello.Feature.aesGCM, maxRecordSize: 65519)
    private let plainHello = Hello(flags: Hello.Feature.pause | Hello.Feature.stripes, maxRecordSize: 65519)

    @Test(.enabled(if: NoiseCipher.hasHardwareAES, "AES-GCM is chosen only on a CPU that runs it in hardware"))
    func learnsFromTheReceiversHelloAndForgets() {
        let memory = CipherMemory()
        let endpoint: [UInt8] = Array(repeating: 7, count: 32)
        #expect(memory.cipher(for: endpoint) == .chaChaPoly, "an endpoint not met yet")
        memory.learn(aesHello, for: endpoint)
        #expect(memory.cipher(for: endpoint) == .aesGCM)
        #expect(memory.cipher(for: Array(repeating: 8, count: 32)) == .chaChaPoly)
        memory.forget(endpoint)
        #expect(memory.cipher(for: endpoint) == .chaChaPoly)
        memory.learn(aesHello, for: endpoint)
        memory.learn(plainHello, for: endpoint)
        #expect(memory.cipher(for: endpoint) == .chaChaPoly, "a receiver that no longer says so")
    }

    /// Bounded: one endpoint more than the capacity forgets the others, never grows past it.
    @Test(.enabled(if: NoiseCipher.hasHardwareAES, "AES-GCM is chosen only on a CPU that runs it in hardware"))
    func bounded() {
        let memory = CipherMemory()
        func key(_ n: Int) -> [UInt8] { withUnsafeBytes(of: n.littleEndian) { Array($0) } + Array(repeating: 0, count: 24) }
        for n in 0..<CipherMemory.capacity { memory.learn(aesHello, for: key(n)) }
        #expect(memory.cipher(for: key(0)) == .aesGCM)
        memory.learn(aesHello, for: key(CipherMemory.capacity))
        #expect(memory.cipher(for: key(0)) == .chaChaPoly)
        #expect(memory.cipher(for: key(CipherMemory.capacity)) == .aesGCM)
    }

    /// Kept in the state database: a daemon started again (it exits when idle) still knows, and
    /// what it forgets, or learns no longer holds, is gone from the database too.
    @Test(.enabled(if: NoiseCipher.hasHardwareAES, "AES-GCM is chosen only on a CPU that runs it in hardware"))
    func aDaemonStartedAgainRemembers() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("s2s-db-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("s2s.sqlite").path
        let logger = Logger(label: "test")
        let (aes, plain, failed): ([UInt8], [UInt8], [UInt8]) = (Array(repeating: 1, count: 32), Array(repeating: 2, count: 32), Array(repeating: 3, count: 32))
        do {
            let memory = CipherMemory(database: try EndpointStore(path: path).database, logger: logger)
            memory.learn(aesHello, for: aes)
            memory.learn(aesHello, for: plain)
            memory.learn(plainHello, for: plain)
            memory.learn(aesHello, for: failed)
            memory.forget(failed)
        }
        let store = try EndpointStore(path: path)
        let memory = CipherMemory(database: store.database, logger: logger)
        #expect(memory.cipher(for: aes) == .aesGCM)
        #expect(memory.cipher(for: plain) == .chaChaPoly)
        #expect(memory.cipher(for: failed) == .chaChaPoly)
        let stored = try store.database.read { db in try db.fetchValues(Data.self, sql: "SELECT key_hash FROM aes_endpoint") }
        #expect(stored.count == 1)
        #expect(!stored.contains(Data(aes)), "a hash of the key, not the key")
    }

    /// The table is bounded as the memory is: one endpoint past the capacity empties it first, so
    /// a daemon started again knows only what came after.
    @Test(.enabled(if: NoiseCipher.hasHardwareAES, "AES-GCM is chosen only on a CPU that runs it in hardware"))
    func theTableIsBoundedToo() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("s2s-db-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let store = try EndpointStore(path: folder.appendingPathComponent("s2s.sqlite").path)
        let logger = Logger(label: "test")
        func key(_ n: UInt8) -> [UInt8] { Array(repeating: n, count: 32) }
        let memory = CipherMemory(database: store.database, logger: logger, capacity: 3)
        for n in UInt8(1)...4 { memory.learn(aesHello, for: key(n)) }
        let rows = try store.database.read { db in try db.fetchValues(Data.self, sql: "SELECT key_hash FROM aes_endpoint") }
        #expect(rows.count == 1)
        let again = CipherMemory(database: store.database, logger: logger, capacity: 3)
        #expect(again.cipher(for: key(4)) == .aesGCM)
        for n in UInt8(1)...3 { #expect(again.cipher(for: key(n)) == .chaChaPoly, "\(n)") }
    }

    @Test func neverWithoutHardwareAESOnThisSide() {
        let memory = CipherMemory()
        let endpoint: [UInt8] = Array(repeating: 1, count: 32)
        memory.learn(aesHello, for: endpoint)
        #expect(memory.cipher(for: endpoint) == (NoiseCipher.hasHardwareAES ? .aesGCM : .chaChaPoly))
    }
}
