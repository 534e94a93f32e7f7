/// The life of a transfer, as the `State` property and the `TransferProgress` and
/// `TransferFinished` signals carry it; docs/queue.md draws the machine, docs/dbus-api.md lists
/// the values. Shared by the daemon and its clients so that both spell the states alike.
public enum TransferState: String, Sendable, CaseIterable, Codable {
    /// Sender: waiting in the queue for a free slot or for its next attempt (`NextAttempt`).
    case queued
    /// Sender: stopped by its owner (`Pause`) until `Resume`; the receiver keeps its data.
    case paused
    /// Sender: connecting, handshake, offer, until the receiver answered.
    case connecting
    /// Data is flowing out (sender) or in (receiver).
    case sending, receiving
    /// Every byte is out; waiting for the receiver's last confirmations.
    case verifying
    case done, failed, cancelled

    /// Done, failed or cancelled: nothing more happens to it.
    public var isFinished: Bool { self == .done || self == .failed || self == .cancelled }

    /// Queued or paused: a send that waits rather than moves data.
    public var isWaiting: Bool { self == .queued || self == .paused }
}

/// Which way a transfer goes, as the `Direction` property carries it.
public enum TransferDirection: String, Sendable, CaseIterable, Codable {
    case send, receive
}
