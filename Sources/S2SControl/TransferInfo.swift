import S2SBus
import S2SClient
import S2SCore

/// A transfer as `s2sctl` prints it, from the daemon's Transfer properties.
struct TransferInfo: Encodable {
    let number: Int64
    let object: String
    let direction: String
    let state: String
    let route: String
    let owner: UInt32
    @Nullable var endpoint: String?
    @Nullable var destination: String?
    let sources: [String]
    let digestAlgorithm: String
    @Nullable var digest: String?
    let bytesDone: UInt64
    let bytesTotal: UInt64
    let bytesResumed: UInt64
    let filesDone: UInt64
    let filesTotal: UInt64
    let rate: UInt64
    /// The transfer's own limit in bytes per second; 0: none.
    let rateLimit: UInt64
    let removeSource: Bool
    /// Move mode: sources kept, each "PATH: REASON".
    let keptSources: [String]
    @Nullable var currentFile: String?
    @Nullable var error: String?
    let created: String
    @Nullable var finished: String?
    /// The send queue's view (outgoing transfers; 0, 0, nil, nil for incoming ones).
    let priority: Int32
    let attempts: UInt32
    @Nullable var nextAttempt: String?
    @Nullable var lastError: String?

    init(object: ObjectPath, properties: [String: DBusValue]) throws {
        let reader = PropertyReader(properties: properties, object: "a transfer")
        func text(_ name: String) throws -> String? {
            let value = try reader.required(name, \.stringValue)
            return value.isEmpty ? nil : value
        }
        self.object = object.rawValue
        number = Self.number(of: object) ?? 0
        direction = try reader.required("Direction", \.stringValue)
        state = try reader.required("State", \.stringValue)
        route = try reader.required("Route", \.stringValue)
        owner = try reader.required("Owner", \.uint32Value)
        let endpointPath = try reader.required("Endpoint", \.objectPathValue)
        endpoint = endpointPath.rawValue == "/" ? nil : endpointPath.rawValue
        destination = try text("Destination")
        sources = try reader.required("Sources", { $0.arrayValue?.compactMap(\.stringValue) })
        digestAlgorithm = try reader.required("DigestAlgorithm", \.stringValue)
        digest = try text("Digest")
        bytesDone = try reader.required("BytesDone", \.uint64Value)
        bytesTotal = try reader.required("BytesTotal", \.uint64Value)
        bytesResumed = try reader.required("BytesResumed", \.uint64Value)
        filesDone = try reader.required("FilesDone", \.uint64Value)
        filesTotal = try reader.required("FilesTotal", \.uint64Value)
        rate = try reader.required("Rate", \.uint64Value)
        // Absent from daemons older than rate limits and move mode.
        rateLimit = properties["RateLimit"]?.unwrappingVariant.uint64Value ?? 0
        removeSource = properties["RemoveSource"]?.unwrappingVariant.boolValue ?? false
        keptSources = properties["KeptSources"]?.unwrappingVariant.arrayValue?.compactMap(\.stringValue) ?? []
        currentFile = try text("CurrentFile")
        error = try text("Error")
        created = Time.rfc3339(microseconds: try reader.required("CreatedTimestamp", \.uint64Value))
        let finishedAt = try reader.required("FinishedTimestamp", \.uint64Value)
        finished = finishedAt == 0 ? nil : Time.rfc3339(microseconds: finishedAt)
        if case .int32(let value)? = properties["Priority"]?.unwrappingVariant { priority = value } else { priority = 0 }
        attempts = properties["Attempts"]?.unwrappingVariant.uint32Value ?? 0
        nextAttemptMicroseconds = properties["NextAttempt"]?.unwrappingVariant.uint64Value ?? 0
        nextAttempt = nextAttemptMicroseconds == 0 ? nil : Time.rfc3339(microseconds: nextAttemptMicroseconds)
        let last = properties["LastError"]?.unwrappingVariant.stringValue ?? ""
        lastError = last.isEmpty ? nil : last
    }

    /// NextAttempt as the daemon sent it (microseconds since the epoch; 0: none).
    let nextAttemptMicroseconds: UInt64

    private enum CodingKeys: String, CodingKey {
        case number, object, direction, state, route, owner, endpoint, destination, sources, digestAlgorithm, digest, bytesDone,
            bytesTotal, bytesResumed, filesDone, filesTotal, rate, currentFile, error, created, finished, priority, attempts,
            nextAttempt, lastError, rateLimit, removeSource, keptSources
    }

    var isFinished: Bool { ["done", "failed", "cancelled"].contains(state) }

    /// N of `/org/s2s/Daemon1/transfer/N`.
    static func number(of path: ObjectPath) -> Int64? {
        guard path.rawValue.hasPrefix(DaemonAPI.transferPathPrefix + "/") else { return nil }
        return Int64(path.rawValue.dropFirst(DaemonAPI.transferPathPrefix.count + 1))
    }

    /// The object path of transfer `text`: a number, or a path as printed by `send --no-wait`.
    static func path(from text: String) -> ObjectPath? {
        if let number = Int64(text), number > 0 { return ObjectPath("\(DaemonAPI.transferPathPrefix)/\(number)") }
        guard let path = ObjectPath(text), number(of: path) != nil else { return nil }
        return path
    }

    /// Why a queued transfer waits, in a few words; nil if it does not.
    var waiting: String? {
        guard state == "queued" || state == "paused" else { return nil }
        if state == "paused" { return "paused" }
        guard let lastError, attempts > 0 else { return "waiting for a free slot" }
        return "retry \(nextAttempt.map { "at \($0)" } ?? "soon") after \(lastError)"
    }

    /// What the transfer moves, in a few words: the destination or the endpoint.
    var summary: String {
        direction == "send" ? "\(sources.count == 1 ? sources[0] : "\(sources.count) sources") → \(destination ?? "?")" : "into \(endpoint ?? "?")"
    }
}
