public import S2SBus
public import S2SCore

extension DaemonClient {
    /// What `Send` answers: the transfer's object, and what the daemon skipped (symbolic links).
    public struct SendReceipt: Sendable {
        public let transfer: ObjectPath
        public let warnings: [String]
    }

    /// Queues a send of `sources` (absolute paths) to `destination`; `options` are
    /// ``DaemonAPI/SendOption`` keys.
    public func send(sources: [String], to destination: PeerDestination, options: [String: DBusValue]) async throws -> SendReceipt {
        let reply = try await manager("Send", [.strings(sources), .string(destination.description), .vardict(options)])
        guard reply.count == 2, let path = reply[0].objectPathValue, let warnings = reply[1].arrayValue?.compactMap(\.stringValue) else {
            throw MalformedReply(message: "the daemon sent a malformed reply")
        }
        return SendReceipt(transfer: path, warnings: warnings)
    }

    /// The caller's transfers that have not finished or finished recently (every user's, for
    /// root); with `history`, every transfer the daemon remembers.
    public func transfers(history: Bool = false) async throws -> [TransferSnapshot] {
        try await objects(history ? "ListTransferHistory" : "ListTransfers").map { path, properties throws(MalformedReply) in
            try TransferSnapshot(path: path, properties: properties)
        }
    }

    /// One transfer as it is now.
    public func transfer(_ path: ObjectPath) async throws -> TransferSnapshot {
        try TransferSnapshot(path: path, properties: try await properties(of: path, interface: DaemonAPI.transferInterface))
    }

    /// Forgets the caller's finished transfers (every user's, for root); returns how many went.
    public func clearFinished() async throws -> UInt32 {
        try single(try await manager("ClearFinished"), \.uint32Value)
    }

    /// Cancels a transfer, outgoing or incoming.
    public func cancel(_ transfer: ObjectPath) async throws {
        try await callTransfer(transfer, "Cancel")
    }

    /// Pauses an outgoing transfer until ``resume(_:)``.
    public func pause(_ transfer: ObjectPath) async throws {
        try await callTransfer(transfer, "Pause")
    }

    /// Puts a paused outgoing transfer back into the queue.
    public func resume(_ transfer: ObjectPath) async throws {
        try await callTransfer(transfer, "Resume")
    }

    /// Sets a transfer's own rate limit in bytes per second (0: none).
    public func setRateLimit(_ bytesPerSecond: UInt64, of transfer: ObjectPath) async throws {
        try await callTransfer(transfer, "SetRateLimit", [.uint64(bytesPerSecond)])
    }

    private func callTransfer(_ transfer: ObjectPath, _ member: String, _ arguments: [DBusValue] = []) async throws {
        _ = try await call(path: transfer, interface: DaemonAPI.transferInterface, member: member, arguments)
    }
}
