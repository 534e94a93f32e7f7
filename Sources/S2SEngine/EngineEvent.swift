/// What the engine tells its front-ends, in order, on ``Engine/events``: one stream of typed
/// events from which the bus adapter makes its signals (as fwupd's daemon turns its engine's
/// signals into D-Bus signals). Each event carries the object as it is now; a change carries the
/// progress that was last published, so that a front-end can say only what changed.
package enum EngineEvent: Sendable {
    /// A new endpoint.
    case endpointAdded(Endpoint)
    /// An endpoint was deleted or expired.
    case endpointRemoved(Endpoint)
    /// An endpoint's counters or remaining uses changed.
    case endpointCountersChanged(Endpoint)
    /// A new transfer (queued, or a sender connected).
    case transferAdded(Transfer)
    /// A running transfer moved on: `now` is its progress, `before` what was last published.
    case transferChanged(Transfer, now: Transfer.Progress, before: Transfer.Progress?)
    /// A transfer ended (done, failed or cancelled).
    case transferFinished(Transfer, now: Transfer.Progress, before: Transfer.Progress?)
    /// A finished transfer is no longer kept among the recent ones.
    case transferRemoved(Transfer)
}

/// Where the engine's parts put their events: the write end of ``Engine/events``. Without a
/// reader (unit tests) nothing is kept.
package struct EngineEventSink: Sendable {
    private let continuation: AsyncStream<EngineEvent>.Continuation?

    /// A sink and the stream it feeds. The stream buffers without bound: events are few (at most
    /// four progress events a second per running transfer), and dropping one would lose a signal.
    package static func makeStream() -> (AsyncStream<EngineEvent>, EngineEventSink) {
        let (stream, continuation) = AsyncStream<EngineEvent>.makeStream(bufferingPolicy: .unbounded)
        return (stream, EngineEventSink(continuation: continuation))
    }

    /// A sink that drops everything (unit tests of one part).
    package static let none = EngineEventSink(continuation: nil)

    private init(continuation: AsyncStream<EngineEvent>.Continuation?) {
        self.continuation = continuation
    }

    package func emit(_ event: EngineEvent) {
        continuation?.yield(event)
    }

    /// Ends the stream (the engine stops).
    package func finish() {
        continuation?.finish()
    }
}
