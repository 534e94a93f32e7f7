#if canImport(Glibc)
import Glibc
#endif

/// Opens a session's source files as the sending user, several in one hop to the user's thread:
/// the file about to be sent and those after it, so that a tree of small files costs one hop per
/// ``openAhead`` files rather than one per file (the receiver creates its partial files ahead in
/// the same way, `ReceiveSink.createAhead`).
///
/// Bounded: at most ``openAhead`` files are opened in one hop, and only while the files opened
/// together, the one asked for included, hold no more than ``aheadBytes``: a hop costs little
/// beside a large file, so a file is opened early only behind small ones, and is read soon after
/// (what is read is the file as it was opened, checked against the scan). Whatever was opened and
/// not taken is closed when the opener goes. Used by one task, as its session is.
final class SourceOpener {
    /// The most files opened in one hop.
    static let openAhead = 16
    /// Files are opened together while their sizes, the one asked for included, add up to no more than this.
    static let aheadBytes: UInt64 = 1 << 20

    /// The files to send, in order.
    private let files: [SourceTree.Source]
    private let worker: UserWorker
    private let followSymlinks: Bool
    /// Opened ahead and not taken, by position in ``files``: the descriptor, or nil for a file that
    /// could not be opened or is no longer the file scanned.
    private var opened: [Int: Int32?] = [:]

    init(files: [SourceTree.Source], worker: UserWorker, followSymlinks: Bool) {
        self.files = files
        self.worker = worker
        self.followSymlinks = followSymlinks
    }

    deinit {
        for case let fd? in opened.values { close(fd) }
    }

    /// Whether ``take(_:)`` has the `index`th file at hand (opened ahead), without a hop.
    func isOpenedAhead(_ index: Int) -> Bool { opened[index] != nil }

    /// How many files are opened ahead and not taken (descriptors or failures).
    var heldAhead: Int { opened.count }

    /// The open descriptor of the `index`th file, which the caller now owns and closes; nil when it
    /// cannot be opened as the user or differs from the file scanned (`SourceTree.open`).
    func take(_ index: Int) async -> Int32? {
        if let fd = opened.removeValue(forKey: index) { return fd }
        let batch = Array(files[index..<aheadEnd(from: index)])
        let followSymlinks = self.followSymlinks
        let descriptors = try? await worker.run { () throws(EngineError) in
            batch.map { SourceTree.open($0, followSymlinks: followSymlinks) }
        }
        // A failure to act as the user: each of these files counts as not opened, as one alone did.
        let results = descriptors ?? Array(repeating: nil, count: batch.count)
        for (offset, fd) in results.enumerated().dropFirst() { opened[index + offset] = fd }
        return results.first ?? nil
    }

    /// The end of the files opened with the `index`th: it, then those after it within both bounds.
    private func aheadEnd(from index: Int) -> Int {
        var end = index + 1
        var bytes = files[index].size
        while end < files.count, end - index < Self.openAhead {
            bytes += files[end].size
            guard bytes <= Self.aheadBytes else { break }
            end += 1
        }
        return end
    }
}
