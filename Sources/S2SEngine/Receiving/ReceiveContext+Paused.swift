import S2SCore
import Logging
import S2SProtocol

extension ReceiveContext {
    /// Cancels an incoming transfer that its sender paused, on its receiver's request: no session
    /// runs to send CANCEL, so this does what a cancelled session does (docs/protocol.md,
    /// "Cancellation"): the partial data goes, removed as the endpoint's owner, and the token is
    /// forgotten; the sender learns it when it resumes (its next session with the token is
    /// answered CANCEL(cancelled)). Returns false if the transfer is not paused.
    func cancelPaused(_ transfer: Transfer) async -> Bool {
        guard let (endpointNumber, token) = await transfers.takePaused(transfer) else { return false }
        if let endpoint = await endpoints.current(endpointNumber) {
            do {
                try await endpoint.withDirectoryAsOwner { directory throws(ReceiveError) in
                    try directory.removePartialArea(token.partialAreaName)
                }
            } catch {
                logger.warning(
                    "cannot remove a cancelled transfer's partial data",
                    metadata: ["transfer": "\(transfer.objectNumber)", "error": "\(error)"])
            }
        }
        try? resume.forget(endpoint: endpointNumber, token: token)
        transfer.finish(.cancelled, error: "cancelled")
        await transfers.finished(transfer)
        return true
    }
}
