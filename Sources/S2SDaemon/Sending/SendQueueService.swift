import ServiceLifecycle

/// Runs the `SendQueue`: restores what a previous run left, then looks four times a second for
/// sends that are due (a retry time passed) besides the starts that adding, ending, resuming
/// and `SetLimits` trigger at once.
struct SendQueueService: Service {
    let queue: SendQueue

    func run() async throws {
        await queue.restore()
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: TransferRegistry.tickInterval)
                await queue.schedule()
            }
        }
    }
}
