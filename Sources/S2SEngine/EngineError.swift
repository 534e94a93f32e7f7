/// Why the engine refused or failed a request, in words the requester can act on.
///
/// The engine knows nothing of D-Bus: each front-end turns a ``Kind`` into its own form (the bus
/// adapter into an `org.s2s.Error.*` name). Messages never carry details of other users' objects.
package struct EngineError: Error, CustomStringConvertible, Equatable {
    /// The families of failure a front-end tells apart.
    package enum Kind: Sendable, Equatable, CaseIterable {
        /// The requester may not do this.
        case accessDenied
        /// No such object, or not one the requester may see.
        case notFound
        /// A path the requester named cannot serve (missing, not a directory, not theirs).
        case invalidPath
        /// The request itself is malformed or out of range.
        case invalidArgument
        /// A configured limit would be exceeded.
        case limitExceeded
        /// Anything else: the engine could not do what was asked.
        case failed
    }

    package let kind: Kind
    package let message: String

    package init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    package var description: String { message }

    package static func accessDenied(_ message: String) -> EngineError { .init(.accessDenied, message) }
    package static func notFound(_ message: String) -> EngineError { .init(.notFound, message) }
    package static func invalidPath(_ message: String) -> EngineError { .init(.invalidPath, message) }
    package static func invalidArgument(_ message: String) -> EngineError { .init(.invalidArgument, message) }
    package static func limitExceeded(_ message: String) -> EngineError { .init(.limitExceeded, message) }
    package static func failed(_ message: String) -> EngineError { .init(.failed, message) }
}
