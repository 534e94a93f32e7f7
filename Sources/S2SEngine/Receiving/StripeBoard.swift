import S2SProtocol
import Synchronization

/// The striped sessions under way, by the secret their further connections present in JOIN, so
/// that a new connection finds the session it belongs to. A secret is valid only for the endpoint
/// whose session gave it out.
final class StripeBoard: Sendable {
    private let sessions = Mutex<[StripeSecret: (endpoint: Int64, merger: StripeMerger)]>([:])

    init() {}

    func register(_ merger: StripeMerger, endpoint: Int64) {
        sessions.withLock { $0[merger.secret] = (endpoint, merger) }
    }

    func remove(_ merger: StripeMerger) {
        sessions.withLock { _ = $0.removeValue(forKey: merger.secret) }
    }

    /// The session that gave out `secret` for `endpoint`, if it is still under way.
    func merger(for secret: StripeSecret, endpoint: Int64) -> StripeMerger? {
        sessions.withLock { sessions in
            guard let entry = sessions[secret], entry.endpoint == endpoint else { return nil }
            return entry.merger
        }
    }
}
