/// Running receive work as the endpoint's owner.
extension UserContext {
    /// Runs `body` on a thread acting as this user (`run`), keeping the receive layer's error: a
    /// failure to take on the identity becomes `.accessDenied` or `.writeFailed`.
    func receive<T: Sendable>(_ body: @escaping @Sendable () throws(ReceiveError) -> T) async throws(ReceiveError) -> T {
        let outcome: Result<T, ReceiveError>
        do {
            outcome = try await run { () throws(EngineError) -> Result<T, ReceiveError> in
                Result { () throws(ReceiveError) -> T in try body() }
            }
        } catch {
            let kind: ReceiveError.Kind = error.kind == .accessDenied ? .accessDenied : .writeFailed
            throw ReceiveError(kind, "cannot act as user \(uid): \(error.message)")
        }
        return try outcome.get()
    }
}

extension Endpoint {
    /// Runs `body` on the endpoint's directory, opened by its owner on a thread acting as them:
    /// how partial data is listed and removed outside a session (the sweep, a cancelled pause),
    /// never as the daemon's own user.
    func withDirectoryAsOwner<T: Sendable>(_ body: @escaping @Sendable (ReceiveDirectory) throws(ReceiveError) -> T) async throws -> T {
        let user = try UserContext.lookup(uid: owner)
        let directory = self.directory
        return try await user.receive { () throws(ReceiveError) -> T in try body(try ReceiveDirectory(opening: directory)) }
    }
}
