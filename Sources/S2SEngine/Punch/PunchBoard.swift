import S2SCore
import S2SNat

/// The punched routes prepared (`PreparePunch`) and not yet used: each a local port whose ticket
/// was handed out, the user it belongs to, and what it is for. A handle is used once, by its
/// owner, before its ticket expires.
///
/// Anyone on the bus may prepare, so the board is bounded: ``perUser`` per user and ``total`` in
/// all, expired ones swept at each call. A preparation holds no socket, only port numbers.
actor PunchBoard {
    struct Prepared: Sendable {
        let owner: UInt32
        let role: PunchTicket.Role
        /// The receiving endpoint's public key, for the receiver's side.
        let endpointKey: [UInt8]?
        let localPort: Int
        /// The UDP port its ticket names (0: none).
        let udpPort: Int
        let expires: UInt32
    }

    static let perUser = 4
    static let total = 64

    private var prepared: [String: Prepared] = [:]

    /// Keeps `entry` and returns its handle (128 random bits, hex).
    func add(_ entry: Prepared, now: UInt32) throws(EngineError) -> String {
        sweep(now: now)
        guard prepared.values.filter({ $0.owner == entry.owner }).count < Self.perUser else {
            throw .limitExceeded("at most \(Self.perUser) punches may wait for their other side per user; use or let expire one first (10 minutes)")
        }
        guard prepared.count < Self.total else {
            throw .limitExceeded("\(Self.total) punches wait for their other side already; try again later")
        }
        var generator = SystemRandomNumberGenerator()
        let handle = (0..<16).map { _ in
            let byte = UInt8.random(in: 0...255, using: &generator)
            return (byte < 16 ? "0" : "") + String(byte, radix: 16)
        }.joined()
        prepared[handle] = entry
        return handle
    }

    /// Takes the preparation `handle` names, if it is `owner`'s, for `role`, and unexpired.
    /// Another user's handle is "not found", like one that never existed.
    func take(_ handle: String, owner: UInt32, role: PunchTicket.Role, now: UInt32) throws(EngineError) -> Prepared {
        sweep(now: now)
        guard let entry = prepared[handle], entry.owner == owner else {
            throw .notFound("no prepared punch with this handle (each is used once, within 10 minutes, by the user who prepared it)")
        }
        guard entry.role == role else {
            throw .invalidArgument(role == .sender ? "this punch was prepared for receiving (endpoint punch)" : "this punch was prepared for sending")
        }
        prepared[handle] = nil
        return entry
    }

    private func sweep(now: UInt32) {
        prepared = prepared.filter { $0.value.expires >= now }
    }
}
