import ArgumentParser
import S2SBus
import S2SCore

/// The TRANSFER argument of the commands that act on one transfer (cancel, pause, resume,
/// set-rate): a number from `s2sctl transfers` or an object path from `send --no-wait`.
struct TransferArgument: ParsableArguments {
    @Argument(help: ArgumentHelp("The transfer: its number (from s2sctl transfers) or object path.", valueName: "transfer"))
    var transfer: String

    func validate() throws {
        guard TransferInfo.path(from: transfer) != nil else {
            throw ValidationError("\"\(transfer)\" is not a transfer number or object path")
        }
    }

    /// Calls `member` of the Transfer interface on this transfer's object.
    func call(_ member: String, _ arguments: [DBusValue] = [], on root: S2SCtl) async throws {
        guard let path = TransferInfo.path(from: transfer) else { throw ValidationError("bad transfer") }
        let client = try await root.busOptions.client()
        _ = try await client.call(path: path, interface: DaemonAPI.transferInterface, member: member, arguments)
    }
}
