/// The outbound user event that switches a connection's pipeline from the handshake to transport
/// messages: ``FlushCoalescer`` starts coalescing flushes, and ``SessionTimerHandler`` stops the
/// handshake deadline, starts the idle and keepalive timers and seals what it writes with the
/// sealer. Triggered once, after Split(), before any record is written.
struct TransportStart: Sendable {
    /// What seals and queues this side's transport messages.
    let sealer: FrameSealer
}
