/// How one attempt of an outgoing transfer ended, as the `SendQueue` needs to know it: finished
/// for good, or worth another attempt.
enum SendOutcome: Sendable, Equatable {
    /// The receiver confirmed every file.
    case done
    /// A permanent failure (a refusal, a bad source, an integrity failure, a protocol error):
    /// retrying would end the same way.
    case failed(String)
    /// Cancelled by a user on either side.
    case cancelled(String)
    /// A network error or a passing condition (receiver busy, stopping, offline): another attempt
    /// may succeed. `rejected`: the receiver closed the handshake, which is also what a receiver
    /// that does not serve the endpoint does.
    case retry(String, rejected: Bool)
}
