import S2SProtocol
import Synchronization

/// Which endpoints take AES-GCM sessions (HELLO flag 0x0004; docs/protocol.md, "Session
/// preamble"), as their receivers said in earlier sessions with this daemon: the sender must
/// announce its cipher before the handshake, so a session's first connection uses what an earlier
/// one learnt, and ChaChaPoly toward an endpoint it has not met yet. In memory only, and bounded:
/// forgetting costs nothing but ChaChaPoly for one connection.
final class CipherMemory: Sendable {
    /// Endpoints remembered at most; all are forgotten when one more would pass it.
    static let capacity = 4096

    private let endpoints = Mutex<Set<[UInt8]>>([])

    /// The cipher for a new connection to the endpoint whose public key is `endpointKey`.
    /// Only endpoints learnt with ``learn(_:for:)`` are here, which this CPU's lack of hardware AES
    /// keeps empty (``Hello/preferredCipher``).
    func cipher(for endpointKey: [UInt8]) -> NoiseCipher {
        endpoints.withLock { $0.contains(endpointKey) } ? .aesGCM : .chaChaPoly
    }

    /// Keeps what the endpoint's receiver said in its HELLO.
    func learn(_ hello: Hello, for endpointKey: [UInt8]) {
        endpoints.withLock { endpoints in
            guard hello.preferredCipher == .aesGCM else {
                endpoints.remove(endpointKey)
                return
            }
            if endpoints.count >= Self.capacity, !endpoints.contains(endpointKey) { endpoints.removeAll() }
            endpoints.insert(endpointKey)
        }
    }

    /// Forgets the endpoint: a connection with AES-GCM failed before its session began (its
    /// receiver may now be one that does not know the cipher).
    func forget(_ endpointKey: [UInt8]) {
        _ = endpoints.withLock { $0.remove(endpointKey) }
    }
}
