public import Crypto
public import NIOCore
public import NIOPosix
public import S2SProtocol

extension SecureChannel {
    /// The longest a sender waits by default for a receiver at the relay.
    public static let defaultRelayDeadline: Duration = .seconds(30)

    /// Sender side on the relay route: connects to the relay that rendezvous hashing of `token`
    /// (by default the endpoint's ``RelayToken``) chooses among `relays` (the receiver waits at the same one), waits
    /// to be paired, then runs the handshake and `body` as ``connect(to:endpointKey:hello:limits:group:_:)``.
    ///
    /// Until `body` starts, every failure is retried with a short backoff until `deadline` has
    /// passed: the relay dropped the connection (another sender took the receiver's waiting
    /// connection, or the relay restarted), the relay is unreachable, or the pairing broke during
    /// the handshake. Once `body` runs, its errors are the caller's. At the deadline, the last
    /// reason is thrown; no receiver at all surfaces as ``RelayError/notPaired(relay:)``.
    public static func connect<Result: Sendable>(
        viaRelays relays: [RelayAddress],
        endpointKey: Curve25519.KeyAgreement.PublicKey,
        token: RelayToken? = nil,
        hello: Hello? = nil,
        cipher: NoiseCipher = .chaChaPoly,
        limits: ProtocolLimits = .default,
        deadline: Duration = defaultRelayDeadline,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        _ body: (SecureChannel) async throws -> Result
    ) async throws -> Result {
        let token = token ?? RelayToken(endpointKey: endpointKey)
        guard let relay = RelayRendezvous.choose(relays, for: token) else {
            throw RelayError.badAddress("no relay is configured")
        }
        let clock = ContinuousClock()
        let end = clock.now + deadline
        var backoff = RelayBackoff(initial: .milliseconds(100), maximum: .seconds(2))
        var lastError: any Error = RelayError.notPaired(relay: relay.description)
        while clock.now < end {
            try Task.checkCancellation()
            let connection: NIOAsyncChannel<ByteBuffer, ByteBuffer>
            do {
                connection = try await RelayConnector.connect(
                    to: relay, token: token, side: .sender, limits: limits,
                    connectTimeout: min(limits.handshakeTimeout, end - clock.now),
                    pairingTimeout: end - clock.now, group: group)
            } catch RelayError.notPaired(let name) {
                throw RelayError.notPaired(relay: name)
            } catch let error as RelayError {
                lastError = error
                try await Task.sleep(for: min(backoff.next(), max(.zero, end - clock.now)))
                continue
            }
            var started = false
            do {
                return try await connect(paired: connection, endpointKey: endpointKey, hello: hello, cipher: cipher, limits: limits) {
                    secure in
                    started = true
                    return try await body(secure)
                }
            } catch where !started {
                // Paired, but the session never began (the relay or the other side dropped the
                // pairing, or a sender took our place): try again.
                lastError = error
                try await Task.sleep(for: min(backoff.next(), max(.zero, end - clock.now)))
            }
        }
        throw lastError
    }
}
