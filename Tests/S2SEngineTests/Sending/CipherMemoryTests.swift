import S2SProtocol
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

    @Test func neverWithoutHardwareAESOnThisSide() {
        let memory = CipherMemory()
        let endpoint: [UInt8] = Array(repeating: 1, count: 32)
        memory.learn(aesHello, for: endpoint)
        #expect(memory.cipher(for: endpoint) == (NoiseCipher.hasHardwareAES ? .aesGCM : .chaChaPoly))
    }
}
