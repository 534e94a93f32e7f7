import NIOCore

/// What the listener hands to the accept loop for each accepted TCP connection: the bare channel,
/// not yet wrapped in a `NIOAsyncChannel`.
///
/// Wrapping happens only in the task that serves the connection, right before
/// `executeThenClose`: a `NIOAsyncChannel` released without its writer finished traps the
/// process, and the listener's inbound stream drops whatever it buffered when the accept loop is
/// cancelled (swift-nio issues 2637 and 2813). A bare channel dropped that way costs nothing: its
/// timers close it, and ``PeerServer`` closes every connection still open when it stops.
struct AcceptedConnection: Sendable {
    /// The connection, its handlers added, reading paused (`autoRead` off) until it is wrapped.
    let channel: any Channel
    /// The connection's handshake slot, or `nil` if it was refused at once (it is being closed).
    let ticket: HandshakeTicket?
}
