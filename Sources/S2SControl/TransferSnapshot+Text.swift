import FoundationEssentials
import S2SBus
import S2SClient
import S2SCore

/// How `s2sctl` describes a transfer in a few words (`transfers`, `watch`).
extension TransferSnapshot {
    /// Why a queued transfer waits, in a few words; nil if it does not.
    func waiting(now: Date = Date()) -> String? {
        guard state.isWaiting else { return nil }
        if state == .paused { return direction == .receive ? "paused by the sender" : "paused" }
        guard let lastError, attempts > 0 else { return "waiting for a free slot" }
        return "retry \(nextAttempt.map { Timestamp.relative(microseconds: $0, now: now) } ?? "soon") after \(lastError)"
    }

    /// What the transfer moves, in a few words: the sources and the destination of a send, the
    /// names and the endpoint's directory (`directory`, when known) of a receive.
    func summary(directory: String? = nil) -> String {
        if direction == .send {
            return "\(sourceCount == 1 ? sources.first ?? "1 source" : "\(sourceCount) sources") → \(destination ?? "?")"
        }
        let what: String
        switch subject {
        case .file(let name): what = name
        case .folder(let name): what = name + "/"
        case .items(let count): what = "\(count) items"
        case .unknown: what = "files"
        }
        guard let directory else { return "\(what) into an endpoint that no longer exists" }
        return "\(what) into \(directory)"
    }

    /// The WHAT column of `s2sctl transfers`: the summary, then why it failed or waits. A reason
    /// that only repeats the state ("cancelled") is left out.
    func whatColumn(directory: String?, now: Date = Date()) -> String {
        let summary = summary(directory: directory)
        if let error, error.lowercased() != state.rawValue { return "\(summary): \(error)" }
        return waiting(now: now).map { "\(summary): \($0)" } ?? summary
    }
}

extension DaemonClient {
    /// The directories of the endpoints the caller sees, by object path: what a receive's
    /// summary names instead of the endpoint's object.
    func endpointDirectories() async -> [ObjectPath: String] {
        guard let endpoints = try? await endpoints() else { return [:] }
        var directories: [ObjectPath: String] = [:]
        for endpoint in endpoints {
            if let directory = endpoint.properties[EndpointProperty.directory.rawValue]?.stringValue {
                directories[endpoint.path] = directory
            }
        }
        return directories
    }
}
