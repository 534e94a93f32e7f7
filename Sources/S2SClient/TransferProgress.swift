public import S2SCore

/// One `TransferProgress` signal of the daemon's Manager: where a running transfer stands.
public struct TransferProgress: Sendable, Equatable, Encodable {
    public let state: TransferState
    public let bytesDone: UInt64
    public let bytesTotal: UInt64
    public let filesDone: UInt64
    public let filesTotal: UInt64
    /// Bytes per second over the last seconds.
    public let rate: UInt64
    /// The relative path of the file being moved; empty between files.
    public let currentFile: String

    public init(
        state: TransferState, bytesDone: UInt64, bytesTotal: UInt64, filesDone: UInt64, filesTotal: UInt64, rate: UInt64,
        currentFile: String
    ) {
        self.state = state
        self.bytesDone = bytesDone
        self.bytesTotal = bytesTotal
        self.filesDone = filesDone
        self.filesTotal = filesTotal
        self.rate = rate
        self.currentFile = currentFile
    }
}
