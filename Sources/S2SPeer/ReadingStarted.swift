/// The inbound user event that ``PeerServer`` fires when it starts reading an accepted connection
/// (the pipeline's reading is off until then): ``SessionTimerHandler`` starts the preamble
/// deadline from here, so that the deadline measures the peer's delay, not the time a busy
/// receiver took to get to the connection (the handshake timeout, from accepting, bounds that).
struct ReadingStarted: Sendable {}
