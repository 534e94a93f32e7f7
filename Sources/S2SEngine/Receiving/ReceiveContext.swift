import Logging

/// What every incoming session needs from the daemon.
struct ReceiveContext: Sendable {
    let endpoints: EndpointRegistry
    let transfers: TransferRegistry
    let resume: ResumeStore
    let configuration: Configuration
    /// MaxIncomingTransfers, MaxIncomingTransfersPerEndpoint and FreeSpaceReserve as they are now
    /// (an administrator may change them while the daemon runs).
    let limits: LiveLimits
    /// The striped sessions under way, for the connections that join them.
    let stripes: StripeBoard
    let logger: Logger
}
