import FoundationEssentials
import Logging
import S2SCore
import S2SProtocol

/// One attempt of a queued send, run outside the queue's actor: rescan the sources as the user
/// (unless the send was scanned as it was added, a moment ago), take the send's token, run a
/// session.
struct SendAttempt: Sendable {
    let transfer: Transfer
    let destination: Destination
    let options: SendOptions
    let tokenKey: Data
    /// The tree scanned as the send was added, for a first attempt that starts at once.
    let scanned: SourceTree?
    let tokens: SendTokenStore
    let ciphers: CipherMemory
    let configuration: Configuration
    let logger: Logger

    func run() async -> SendOutcome {
        let user: UserContext
        do {
            user = try UserContext.lookup(uid: transfer.owner)
        } catch {
            return .failed("user \(transfer.owner) no longer exists: \(error)")
        }
        let follow = options.followSymlinks
        let sources = transfer.sources
        // In move mode an earlier attempt (maybe of a daemon since killed) removed what the
        // receiver confirmed: a source that is gone now is not an error.
        let moved = options.removeSource && transfer.snapshot.attempts > 1
        let tree: SourceTree
        if let scanned {
            tree = scanned
        } else {
            do {
                tree = try await user.run { () throws(EngineError) in
                    try SourceTree.scan(sources, followSymlinks: follow, maxEntries: ProtocolLimits.defaultMaxEntries, skippingMissing: moved)
                }
            } catch {
                return .failed("cannot read the sources: \(error)")
            }
        }
        if tree.entries.isEmpty {
            logger.info("every source was moved by earlier attempts", metadata: ["transfer": "\(transfer.objectNumber)"])
            return .done
        }
        transfer.update {
            $0.bytesTotal = tree.totalBytes
            $0.filesTotal = UInt64(tree.fileCount)
        }
        let token: TransferToken
        do {
            token = try tokens.token(for: tokenKey, now: Clock.nowMicroseconds).token
        } catch {
            return .retry("cannot read the transfer's token: \(error)", rejected: false)
        }
        var unchanged: Set<String> = []
        if options.removeSource {
            do {
                unchanged = try tokens.unchangedSinceFirstOffer(key: tokenKey, sources: tree.sources.compactMap { $0 })
            } catch {
                return .retry("cannot record the sources for move mode: \(error)", rejected: false)
            }
        }
        let session = SendSession(
            transfer: transfer, tree: tree, destination: destination, token: token, digest: options.digest, followSymlinks: follow,
            user: user, logger: logger, relays: configuration.relays, relayDeadline: configuration.relayWaitTimeout,
            timeouts: configuration.peerLimits, unchangedSinceFirstOffer: unchanged,
            streams: options.streams ?? configuration.streams, ciphers: ciphers, punch: options.punch,
            direct: options.allowDirect ?? configuration.allowDirect ? configuration.stunServers : nil)
        return await session.run()
    }
}
