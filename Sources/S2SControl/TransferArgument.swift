import ArgumentParser
import S2SBus
import S2SClient
import S2SCore
#if canImport(Glibc)
import Glibc
#endif

/// The TRANSFER argument of the commands that act on one transfer (cancel, pause, resume,
/// set-rate): a number from `s2sctl transfers` (the caller's own), `USER:N` or `UID:N` (another
/// user's, for root and administrators), or an object path from `send --no-wait`.
struct TransferArgument: ParsableArguments {
    @Argument(
        help: ArgumentHelp(
            "The transfer: its number (from s2sctl transfers), USER:N or UID:N for another user's transfer N (root, "
                + "administrators), or its object path.",
            valueName: "transfer"),
        completion: Completions.transfers)
    var transfer: String

    func validate() throws {
        guard TransferSnapshot.path(from: transfer, caller: getuid()) != nil else {
            throw ValidationError("\"\(transfer)\" is not a transfer: give its number, USER:N, UID:N or its object path")
        }
    }

    /// Connects, then does `action` to this transfer's object.
    func act(on root: S2SCtl, _ action: (DaemonClient, ObjectPath) async throws -> Void) async throws {
        guard let path = TransferSnapshot.path(from: transfer, caller: getuid()) else { throw ValidationError("bad transfer") }
        let client = try await root.busOptions.client()
        do {
            try await action(client, path)
        } catch let error as DaemonCallError where error.busError.name == StandardErrorName.unknownObject {
            throw CommandFailure(message: "no transfer \(TransferLabel.text(path))")
        }
    }
}

/// How `s2sctl` names a transfer so that it can be typed back: `N` for one of the caller's,
/// `USER:N` for another user's (`ObjectNumber.text(for:)`).
enum TransferLabel {
    static func text(_ path: ObjectPath) -> String {
        TransferSnapshot.objectNumber(of: path)?.text(for: getuid()) ?? path.rawValue
    }
}
