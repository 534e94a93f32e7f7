/// One flush's work on the disk, in the order that keeps a crash safe (docs/protocol.md,
/// "Resume"): the batch's verified files, with the names the flush before renamed, made durable in
/// one sync; the files about to be published recorded as such; then each renamed into place.
///
/// The session hands it to the sink's publishing worker (`ReceiveSink.startFlush`) and goes on
/// receiving the next batch while the disk works: on a journaled file system the sync waits for a
/// journal commit, and the renames are a tree's largest cost after the data.
struct BatchFlush: Sendable {
    /// A verified file to publish.
    struct File: Sendable {
        /// Its index in the offer, and its offered path (what the resume records know it by).
        let entry: UInt32
        let path: String
        let request: PartialArea.PublishRequest
    }

    let files: [File]
    /// The previous flush's files, renamed but not yet durable under their new names: this
    /// flush's sync makes them so (a rename never leaves the file system).
    let earlier: RenamedBatch?
    /// Whether the new names are made durable here too (the transfer ends or stops).
    let syncingNames: Bool

    /// What the disk said.
    struct Outcome: Sendable {
        /// Whether the sync succeeded, making `earlier` durable under its new names.
        var earlierDurable = true
        /// By entry: where each file was published, or why it was not.
        var published: [UInt32: Result<PartialArea.Published, ReceiveError>] = [:]
        /// Why the files could not be recorded as being published (they were not), for the log.
        var recordFailure: String?
    }

    /// Does the work, on the calling thread; `record` notes the files about to be published and
    /// the earlier ones now delivered (nil when their names could not be made durable).
    func run(
        in area: PartialArea, record: (_ publishing: [String], _ delivered: RenamedBatch?) throws -> Void
    ) -> Outcome {
        var outcome = Outcome()
        do throws(ReceiveError) {
            if !files.isEmpty {
                try area.sync(files.map(\.request.file), strategy: earlier != nil ? .fileSystem : .automatic)
            } else if earlier != nil {
                try area.syncFileSystem()
            }
        } catch {
            outcome.earlierDurable = false
            for file in files { outcome.published[file.entry] = .failure(error) }
        }
        let publishing = files.filter { outcome.published[$0.entry] == nil }
        do {
            try record(publishing.map(\.path), outcome.earlierDurable ? earlier : nil)
        } catch {
            // Earlier files are in place; only their retry bookkeeping is behind. These files
            // cannot be published without their record.
            outcome.recordFailure = "\(error)"
            let failure = ReceiveError(.writeFailed, "cannot record the files to publish: \(error)")
            for file in publishing { outcome.published[file.entry] = .failure(failure) }
        }
        let requests = publishing.filter { outcome.published[$0.entry] == nil }
        guard !requests.isEmpty else { return outcome }
        let results = area.publish(requests.map(\.request), syncingNames: syncingNames)
        for (file, result) in zip(requests, results) { outcome.published[file.entry] = result }
        return outcome
    }
}
