import S2SCore
/// The daemon-wide rate limits (`MaxUploadRate=`, `MaxDownloadRate=`): every outgoing
/// transfer's limiter pays into `upload`, every incoming one's into `download`, so the limits
/// hold for all transfers together and a change reaches the running ones at once.
package final class Bandwidth: Sendable {
    package let upload = RateLimiter()
    package let download = RateLimiter()

    package func apply(_ limits: Limits) {
        upload.setRate(limits.maxUploadRate)
        download.setRate(limits.maxDownloadRate)
    }

    /// The limiter a transfer in `direction` pays into after its own.
    package func shared(for direction: Transfer.Direction) -> RateLimiter {
        direction == .send ? upload : download
    }
}
