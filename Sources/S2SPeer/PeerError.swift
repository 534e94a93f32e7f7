public import S2SProtocol

/// Everything that can end a peer connection, with enough context to log a useful line. Every case
/// ends that one connection only (docs/protocol.md, "Errors").
public enum PeerError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Which timer of docs/protocol.md ("Timeouts and keepalive") fired.
    public enum Timer: String, Sendable, Hashable {
        /// From connecting (accepting) until the handshake is complete.
        case handshake
        /// From accepting until the 37-byte preamble has arrived (receiver side).
        case preamble
        /// No complete frame received for the idle timeout.
        case idle
    }

    /// The connection ended: the peer closed it, or it was closed on this side. `context` says when.
    case closed(String)
    /// A timer expired and the connection was cut off.
    case timeout(Timer)
    /// The handshake did not complete; `reason` says why. A receiver closes without a word, so a
    /// sender that used the wrong endpoint ID sees the connection closed during the handshake.
    case handshakeFailed(String)
    /// The preamble named no endpoint this side serves (receiver side; the connection was closed).
    case unknownEndpoint
    /// A frame announced a length above this side's limit; it was not read.
    case frameTooLarge(length: Int, limit: Int)
    /// The byte stream is not a sequence of frames: a zero length, or the stream ended inside a frame.
    case malformedFrame(String)
    /// The Noise layer failed, e.g. a transport message did not authenticate (the connection was
    /// closed at once).
    case noise(NoiseError)
    /// A record (or the preamble or HELLO) broke the protocol; the caller decides whether to answer
    /// with REFUSE or CANCEL before closing.
    case protocolError(ProtocolError)
    /// A record to send is larger than the peer accepts.
    case recordTooLarge(size: Int, limit: Int)
    /// `receive()` or `close()` was called while another `receive()` was still waiting.
    case concurrentReceive
    /// Connecting or binding failed; `reason` is the system's message.
    case network(String)

    public var description: String {
        switch self {
        case .closed(let context): "connection closed: \(context)"
        case .timeout(let timer): "\(timer.rawValue) timeout"
        case .handshakeFailed(let reason): "handshake failed: \(reason)"
        case .unknownEndpoint: "the preamble names no endpoint served here"
        case .frameTooLarge(let length, let limit): "frame of \(length) bytes exceeds the limit of \(limit)"
        case .malformedFrame(let reason): "malformed frame: \(reason)"
        case .noise(let error): "Noise: \(error)"
        case .protocolError(let error): "protocol error: \(error)"
        case .recordTooLarge(let size, let limit): "record of \(size) bytes exceeds the peer's limit of \(limit)"
        case .concurrentReceive: "another receive() is already waiting on this channel"
        case .network(let reason): "network: \(reason)"
        }
    }
}
