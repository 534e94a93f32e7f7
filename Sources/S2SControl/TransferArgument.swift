import ArgumentParser
import S2SBus
import S2SClient

/// The TRANSFER argument of the commands that act on one transfer (cancel, pause, resume,
/// set-rate): a number from `s2sctl transfers` or an object path from `send --no-wait`.
struct TransferArgument: ParsableArguments {
    @Argument(
        help: ArgumentHelp("The transfer: its number (from s2sctl transfers) or object path.", valueName: "transfer"),
        completion: Completions.transfers)
    var transfer: String

    func validate() throws {
        guard TransferSnapshot.path(from: transfer) != nil else {
            throw ValidationError("\"\(transfer)\" is not a transfer number or object path")
        }
    }

    /// Connects, then does `action` to this transfer's object.
    func act(on root: S2SCtl, _ action: (DaemonClient, ObjectPath) async throws -> Void) async throws {
        guard let path = TransferSnapshot.path(from: transfer) else { throw ValidationError("bad transfer") }
        let client = try await root.busOptions.client()
        do {
            try await action(client, path)
        } catch let error as DaemonCallError where error.busError.name == StandardErrorName.unknownObject {
            throw CommandFailure(message: "no transfer \(TransferSnapshot.number(of: path).map(String.init) ?? transfer)")
        }
    }
}
