import Crypto
import S2SCore
import S2SProtocol

/// All endpoints, in memory and in the store; the one place that creates and deletes them.
actor EndpointRegistry {
    private let store: EndpointStore
    private var maxEndpointsPerUser: UInt64
    private var endpoints: [Int64: Endpoint] = [:]
    private var membershipChanges: AsyncStream<Void>.Continuation?

    /// Rows that could not be read (a malformed key): those endpoints are disabled, the rest
    /// serve. The rows stay in the store, so that their keys can still be recovered.
    let unreadable: [(endpoint: ObjectNumber, reason: String)]

    init(store: EndpointStore, maxEndpointsPerUser: UInt64) throws {
        self.store = store
        self.maxEndpointsPerUser = maxEndpointsPerUser
        let loaded = try store.loadAll()
        for endpoint in loaded.endpoints { endpoints[endpoint.number] = endpoint }
        unreadable = loaded.unreadable
    }

    var count: Int { endpoints.count }

    /// Makes a new key pair and records the endpoint.
    func create(owner: UInt32, directory: EndpointDirectory, options: EndpointOptions, now: UInt64) throws(EngineError) -> Endpoint {
        let owned = endpoints.values.reduce(0) { $0 + ($1.owner == owner ? 1 : 0) }
        guard UInt64(owned) < maxEndpointsPerUser else {
            throw .limitExceeded("you have \(owned) endpoints, the most this daemon allows (MaxEndpointsPerUser); delete one first")
        }
        let key = Curve25519.KeyAgreement.PrivateKey()
        guard let id = EndpointID(publicKey: Array(key.publicKey.rawRepresentation)) else {
            throw .failed("key generation produced a malformed public key")
        }
        let endpoint: Endpoint
        do {
            endpoint = try store.insert(
                id: id, privateKey: Array(key.rawRepresentation), directory: directory, owner: owner, created: now,
                quota: options.quota, expires: options.lifetime.map { now + $0 * 1_000_000 },
                remainingUses: options.maxUses, allowDirect: options.allowDirect)
        } catch {
            throw .failed("cannot record the endpoint: \(error)")
        }
        endpoints[endpoint.number] = endpoint
        if endpoint.expires != nil { expiryAdded.ring() }
        membershipChanges?.yield()
        keysVersion &+= 1
        keysChanged.ring()
        return endpoint
    }

    /// A change of `MaxEndpointsPerUser` (`SetLimits`); applies to endpoints created from now on.
    func setMaxEndpointsPerUser(_ limit: UInt64) {
        maxEndpointsPerUser = limit
    }

    /// The endpoints in `scope` (see `Authorization`), by number.
    func endpoints(in scope: Scope) -> [Endpoint] {
        endpoints.values.filter { $0.isVisible(in: scope) }.sorted { $0.number < $1.number }
    }

    /// The endpoint with this ID, whoever owns it: the caller decides who may see it.
    func endpoint(id: EndpointID) -> Endpoint? {
        endpoints.values.first { $0.id == id }
    }

    func remove(_ endpoint: Endpoint) throws(EngineError) {
        do {
            try store.delete(numbers: [endpoint.number])
        } catch {
            throw .failed("cannot delete the endpoint: \(error)")
        }
        endpoints[endpoint.number] = nil
        membershipChanges?.yield()
        keysVersion &+= 1
        keysChanged.ring()
    }

    /// The endpoint a session preamble names, if it exists and has not expired: one HMAC per
    /// endpoint (docs/protocol.md, "Session preamble").
    func endpoint(matching selector: EndpointSelector, now: UInt64) -> Endpoint? {
        endpoints.values.first { endpoint in
            guard !endpoint.hasExpired(atMicroseconds: now),
                let key = try? Curve25519.KeyAgreement.PublicKey(rawRepresentation: endpoint.id.publicKey)
            else { return false }
            return selector.matches(endpointKey: key)
        }
    }

    func endpoint(publicKey: [UInt8]) -> Endpoint? {
        endpoints.values.first { $0.id.publicKey == publicKey }
    }

    /// The endpoint as it is now (counters and remaining uses change), if it still exists.
    func current(_ number: Int64) -> Endpoint? { endpoints[number] }

    /// The endpoint the bus and the journal name `object`, whoever owns it.
    func endpoint(_ object: ObjectNumber) -> Endpoint? {
        endpoints.values.first { $0.owner == object.owner && $0.ownerNumber == object.number }
    }

    /// Takes one use of a limited endpoint for a new transfer. False if none is left.
    func consumeUse(_ number: Int64) throws(EngineError) -> Bool {
        guard var endpoint = endpoints[number] else { return false }
        guard let remaining = endpoint.remainingUses else { return true }
        guard remaining > 0 else { return false }
        do {
            try store.setRemainingUses(number: number, remaining - 1)
        } catch {
            throw .failed("cannot record the endpoint's remaining uses: \(error)")
        }
        endpoint.remainingUses = remaining - 1
        endpoints[number] = endpoint
        return true
    }

    /// Counts delivered files in memory (the store was updated with the delivery).
    func addReceived(_ number: Int64, bytes: UInt64, files: UInt64) {
        endpoints[number]?.bytesReceived &+= bytes
        endpoints[number]?.filesReceived &+= files
    }

    /// Deletes every endpoint whose expiry has passed and returns them.
    func removeExpired(now: UInt64) throws(EngineError) -> [Endpoint] {
        let expired = endpoints.values.filter { $0.hasExpired(atMicroseconds: now) }
        do {
            try store.delete(numbers: expired.map(\.number))
        } catch {
            throw .failed("cannot delete expired endpoints: \(error)")
        }
        for endpoint in expired { endpoints[endpoint.number] = nil }
        if !expired.isEmpty {
            membershipChanges?.yield()
            keysVersion &+= 1
            keysChanged.ring()
        }
        return expired
    }

    /// The earliest expiry, in microseconds since the epoch.
    var nextExpiry: UInt64? { endpoints.values.compactMap(\.expires).min() }

    /// Rings whenever an endpoint with an expiry is added, so the sweeper can sleep until the
    /// earliest one instead of polling.
    nonisolated let expiryAdded = Doorbell()

    /// Rings whenever an endpoint (and so a key) is created or deleted: the state backup follows.
    nonisolated let keysChanged = Doorbell()
    /// Counts those changes, so that the backup knows whether it has the last one.
    private(set) var keysVersion: UInt64 = 0

    /// Yields whenever endpoints are created or deleted (also by expiry), so that the relay
    /// service can keep one waiting connection per open endpoint without polling. Yields once at
    /// once, for the endpoints there are already.
    func membershipChangeStream() -> AsyncStream<Void> {
        let (stream, continuation) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        membershipChanges = continuation
        continuation.yield()
        return stream
    }

    /// Every endpoint that has not expired.
    func openEndpoints(now: UInt64) -> [Endpoint] {
        endpoints.values.filter { !$0.hasExpired(atMicroseconds: now) }.sorted { $0.number < $1.number }
    }
}
