/// The options of `CreateEndpoint`, checked before anything touches the disk.
package struct EndpointOptions: Sendable, Equatable {
    package var quota: UInt64?
    /// Seconds from creation to expiry.
    package var lifetime: UInt64?
    package var maxUses: UInt64?
    /// Whether senders on the relay route that ask may move to a direct path (revealing this
    /// host's addresses to them).
    package var allowDirect = false

    /// The largest finite value accepted; larger ones (other than "unlimited") are refused rather
    /// than silently clamped.
    package static let largestFinite = UInt64(Int64.max)
    /// A hundred years, so that an expiry time in microseconds cannot overflow.
    package static let longestLifetime: UInt64 = 100 * 365 * 86_400

    package init(quota: UInt64? = nil, lifetime: UInt64? = nil, maxUses: UInt64? = nil) {
        self.quota = quota
        self.lifetime = lifetime
        self.maxUses = maxUses
    }
}
