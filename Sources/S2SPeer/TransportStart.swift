import S2SProtocol

/// The outbound user event that switches a connection's pipeline from the handshake to transport
/// messages: ``NoiseEncryptHandler`` takes the sending CipherState from it, and
/// ``SessionTimerHandler`` stops the handshake deadline and starts the idle and keepalive timers.
/// Triggered once, after Split(), before any record is written.
struct TransportStart: Sendable {
    /// The CipherState for this side's outgoing transport messages.
    let sendCipher: CipherState
}
