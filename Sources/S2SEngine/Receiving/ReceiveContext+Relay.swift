import Crypto
import Logging
import NIOCore
import S2SNat
import S2SPeer
import S2SProtocol

extension ReceiveContext {
    /// The receiver's side of a connection it opened itself, to a relay that paired it (`route`
    /// "relay") or to a sender through a punched hole ("punched"): the same as an accepted
    /// connection's (the preamble selects the endpoint, the Noise handshake proves its key).
    /// `handshakeDone` is called once the handshake is over, either way.
    /// `punched`: the path a punched connection came by, for its further connections.
    func serve(
        paired connection: NIOAsyncChannel<ByteBuffer, ByteBuffer>, route: String, punched: DirectPath.Punched? = nil,
        handshakeDone: @Sendable () -> Void
    ) async {
        let context = self
        do {
            try await SecureChannel.accept(
                connection,
                lookup: { selector in
                    await context.endpoints.endpoint(matching: selector, now: Clock.nowMicroseconds).flatMap { endpoint in
                        try? Curve25519.KeyAgreement.PrivateKey(rawRepresentation: endpoint.privateKey)
                    }
                },
                // Only a relayed session moves to a direct path, and only where its endpoint allows it.
                offersDirect: { selector in
                    guard route == "relay" else { return false }
                    return await context.endpoints.endpoint(matching: selector, now: Clock.nowMicroseconds)?.allowDirect ?? false
                },
                limits: configuration.peerLimits,
                onHandshake: handshakeDone
            ) { channel in
                let key = Array(channel.endpointKey.rawRepresentation)
                guard let endpoint = await context.endpoints.endpoint(publicKey: key) else { return }
                await ReceiveSession(channel: channel, endpoint: endpoint, context: context, route: route, punched: punched).run()
            }
        } catch {
            logger.debug("peer connection failed", metadata: ["route": "\(route)", "error": "\(error)"])
        }
    }

    /// For a striped session on a punched path: a hole for each further connection the session
    /// allows, from the next ports on both sides (``DirectPath/Punched/stripe(_:)``), each served
    /// like any punched connection once through (its JOIN then finds the session). The sender
    /// opens further connections whenever its stream count grows, so each hole is knocked at
    /// until its connection comes or the session ends (this task is cancelled then).
    func punchStripes(for merger: StripeMerger, along path: DirectPath.Punched) async {
        let limits = configuration.peerLimits
        await withDiscardingTaskGroup { group in
            for index in stride(from: 1, through: merger.extra, by: 1) {
                group.addTask {
                    while !Task.isCancelled {
                        do {
                            let connection = try await DirectPath.connect(.tcp, along: path.stripe(index), receiver: true, limits: limits)
                            await serve(paired: connection, route: "punched", handshakeDone: {})
                            return
                        } catch {
                            // An attempt that failed at once (its port taken) waits a slot.
                            try? await Task.sleep(for: .seconds(Int64(TCPPunch.slot)))
                        }
                    }
                }
            }
        }
    }

    /// For a striped session that came through a relay: one connection waiting at the relay for
    /// each further connection the session allows, under the tokens derived from its secret
    /// (`RelayToken(stripe:index:)`), each served like any relayed connection once paired (its
    /// JOIN then finds the session). Runs until cancelled (the session's end).
    func waitAtRelays(for merger: StripeMerger) async {
        let relays = configuration.relays
        let limits = configuration.peerLimits
        await withDiscardingTaskGroup { group in
            for index in stride(from: 1, through: merger.extra, by: 1) {
                let token = RelayToken(stripe: merger.secret, index: UInt8(truncatingIfNeeded: index))
                guard let relay = RelayRendezvous.choose(relays, for: token) else { return }
                group.addTask {
                    do {
                        let connection = try await RelayConnector.connect(
                            to: relay, token: token, side: .receiver, limits: limits, pairingTimeout: nil)
                        await serve(paired: connection, route: "relay", handshakeDone: {})
                    } catch {
                        if !Task.isCancelled {
                            logger.info("a striped session's waiting connection at the relay failed", metadata: ["error": "\(error)"])
                        }
                    }
                }
            }
        }
    }
}
