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
