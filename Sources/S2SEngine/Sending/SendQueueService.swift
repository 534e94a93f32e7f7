import ServiceLifecycle

/// Runs the `SendQueue`: restores what a previous run left, then starts sends whose retry time
/// came, sleeping in between (adding, ending, resuming a send and `SetLimits` start sends at once).
struct SendQueueService: Service {
    let queue: SendQueue

    func run() async throws {
        await queue.restore()
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                let delay = await queue.scheduleForService()
                await queue.retryDue.wait(upTo: delay)
            }
        }
    }
}
