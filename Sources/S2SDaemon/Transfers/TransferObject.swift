import S2SBus
import S2SCore

/// One transfer's bus object: its properties, `Cancel`, `SetRateLimit`, and the queue's `Pause` and `Resume`.
struct TransferObject: BusObject {
    let transfer: Transfer
    /// The send queue, which owns outgoing transfers until they end (nil: none, unit tests).
    var queue: SendQueue?
    var interfaces: [InterfaceDescription] { [DaemonInterfaces.transfer] }

    func call(_ method: InterfaceDescription.Method, of interface: String, arguments: [DBusValue], caller: Caller) async throws -> [DBusValue] {
        // The object tree hands this object only to callers the authorization table allows
        // (Manager.object(at:for:)), for every method as for its properties.
        switch method.name {
        case "Cancel":
            if transfer.direction == .send, let queue {
                try await queue.cancel(transfer)
                return []
            }
            guard transfer.requestCancel() else {
                throw DaemonError.invalidArgument("the transfer has already ended (\(transfer.snapshot.state.rawValue))")
            }
            return []
        case "SetRateLimit":
            guard case .uint64(let rate)? = arguments.first else {
                throw DaemonError.invalidArgument("SetRateLimit takes bytes per second (t), 0 for no limit")
            }
            guard !transfer.snapshot.state.isFinished else {
                throw DaemonError.invalidArgument("the transfer has already ended (\(transfer.snapshot.state.rawValue))")
            }
            if transfer.direction == .send, let queue {
                try await queue.setRateLimit(transfer, rate)
            } else {
                transfer.setRateLimit(rate)
            }
            return []
        case "Pause", "Resume":
            guard transfer.direction == .send, let queue else {
                throw DaemonError.invalidArgument("only outgoing transfers can be paused and resumed; this one is incoming")
            }
            if method.name == "Pause" {
                try await queue.pause(transfer)
            } else {
                try await queue.resume(transfer)
            }
            return []
        default:
            throw BusError.remote(name: StandardErrorName.unknownMethod, message: "no method \(method.name)")
        }
    }

    func properties(of interface: String, caller: Caller) async throws -> [String: DBusValue] {
        transfer.properties
    }
}
