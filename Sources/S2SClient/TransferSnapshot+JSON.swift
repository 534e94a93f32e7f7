import S2SBus
extension TransferSnapshot: Encodable {
    private enum CodingKeys: String, CodingKey {
        case number, object, direction, state, route, owner, endpoint, destination, sources, sourceCount, digestAlgorithm, digest, bytesDone,
            bytesTotal, bytesResumed, filesDone, filesTotal, rate, currentFile, error, created, finished, priority, attempts,
            nextAttempt, lastError, rateLimit, removeSource, keptSources
    }

    /// The JSON of `s2sctl --json`, a contract with scripts: every key is always there (`null`
    /// for none), timestamps are RFC 3339, the object is `object` and `number` its number.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(number ?? 0, forKey: .number)
        try container.encode(path.rawValue, forKey: .object)
        try container.encode(direction, forKey: .direction)
        try container.encode(state, forKey: .state)
        try container.encode(route, forKey: .route)
        try container.encode(owner, forKey: .owner)
        try container.encode(endpoint?.rawValue, forKey: .endpoint)
        try container.encode(destination, forKey: .destination)
        try container.encode(sources, forKey: .sources)
        try container.encode(sourceCount, forKey: .sourceCount)
        try container.encode(digestAlgorithm, forKey: .digestAlgorithm)
        try container.encode(digest, forKey: .digest)
        try container.encode(bytesDone, forKey: .bytesDone)
        try container.encode(bytesTotal, forKey: .bytesTotal)
        try container.encode(bytesResumed, forKey: .bytesResumed)
        try container.encode(filesDone, forKey: .filesDone)
        try container.encode(filesTotal, forKey: .filesTotal)
        try container.encode(rate, forKey: .rate)
        try container.encode(currentFile, forKey: .currentFile)
        try container.encode(error, forKey: .error)
        try container.encode(Timestamp.rfc3339(microseconds: createdTimestamp), forKey: .created)
        try container.encode(finishedTimestamp.map(Timestamp.rfc3339(microseconds:)), forKey: .finished)
        try container.encode(priority, forKey: .priority)
        try container.encode(attempts, forKey: .attempts)
        try container.encode(nextAttempt.map(Timestamp.rfc3339(microseconds:)), forKey: .nextAttempt)
        try container.encode(lastError, forKey: .lastError)
        try container.encode(rateLimit, forKey: .rateLimit)
        try container.encode(removeSource, forKey: .removeSource)
        try container.encode(keptSources, forKey: .keptSources)
    }
}
