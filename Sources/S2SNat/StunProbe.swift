public import NIOCore
public import NIOPosix
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Binding requests to STUN servers from one local port, over UDP or TCP: the address each
/// server saw. Every exchange is bounded in time and size, and a reply counts only if it comes
/// from the server asked and carries the transaction ID of the request.
public enum StunProbe {
    /// One server's outcome.
    public struct Answer: Sendable {
        public let server: SocketAddress
        public let result: Result<StunAddress, StunError>
        /// OTHER-ADDRESS of a successful reply (RFC 5780), when the server has one.
        public let otherAddress: StunAddress?
    }

    /// RFC 8489 section 6.2.1: retransmit at 500 ms, then doubling; s2s gives up after 3 s
    /// (a NAT look must not hold a transfer up for the RFC's 39.5 s).
    static let firstRetransmission = Duration.milliseconds(500)
    public static let deadline = Duration.seconds(3)

    /// Sends a Binding request to each server from one UDP socket bound to `localPort` (0: any)
    /// and waits for the replies, retransmitting as RFC 8489 says, until all answered or
    /// ``deadline``. With `followOtherAddress`, a reply's OTHER-ADDRESS is asked too, when fewer
    /// than two server addresses were given. Returns the port used and one answer per server.
    public static func udp(
        servers: [SocketAddress], localPort: Int = 0, followOtherAddress: Bool = true,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async throws(StunError) -> (localPort: Int, answers: [Answer]) {
        guard let family = servers.first?.protocol else { return (localPort, []) }
        let channel: NIOAsyncChannel<AddressedEnvelope<ByteBuffer>, AddressedEnvelope<ByteBuffer>>
        do {
            channel = try await DatagramBootstrap(group: group)
                .channelOption(.socketOption(.so_reuseaddr), value: 1)
                .channelOption(reusePort, value: 1)
                .bind(to: try anyAddress(family: family, port: localPort)) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try NIOAsyncChannel<AddressedEnvelope<ByteBuffer>, AddressedEnvelope<ByteBuffer>>(wrappingChannelSynchronously: channel)
                    }
                }
        } catch {
            throw .network("binding a UDP socket to port \(localPort): \(error)")
        }
        let port = channel.channel.localAddress?.port ?? localPort
        let exchanges = UDPExchanges(servers: servers, followOtherAddress: followOtherAddress)
        do {
            try await channel.executeThenClose { inbound, outbound in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    // Retransmits and ends the wait at the deadline.
                    group.addTask {
                        let start = ContinuousClock.now
                        var wait = firstRetransmission
                        var next = start
                        while ContinuousClock.now < start + deadline {
                            if ContinuousClock.now >= next {
                                for (server, request) in exchanges.unanswered() {
                                    try await outbound.write(AddressedEnvelope(remoteAddress: server, data: ByteBuffer(bytes: request)))
                                }
                                next = next + wait
                                wait *= 2
                            }
                            try await Task.sleep(until: min(next, start + deadline), clock: .continuous)
                        }
                    }
                    // Reads replies until every server answered.
                    group.addTask {
                        for try await envelope in inbound {
                            if let request = exchanges.take(envelope) {
                                try await outbound.write(AddressedEnvelope(remoteAddress: request.server, data: ByteBuffer(bytes: request.bytes)))
                            }
                            if exchanges.isComplete { return }
                        }
                    }
                    // Whichever ends first ends the other; a failed send ends both.
                    defer { group.cancelAll() }
                    try await group.next()
                }
            }
        } catch is CancellationError {
        } catch {
            exchanges.fail(with: "\(error)")
        }
        return (port, exchanges.answers())
    }

    /// One Binding request over a TCP connection from `localPort` (0: any) to `server`, with
    /// `SO_REUSEADDR` and `SO_REUSEPORT` so that the same port can then connect elsewhere (a
    /// second server, a punch). Returns the local port and the server's answer.
    public static func tcp(
        server: SocketAddress, localPort: Int = 0, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton
    ) async -> (localPort: Int, answer: Answer) {
        let request = StunMessage.bindingRequest()
        let used = Mutex(localPort)
        let result: Result<StunMessage, StunError>
        do {
            result = .success(try await withDeadline(deadline) {
                let channel = try await ClientBootstrap(group: group)
                    .channelOption(.socketOption(.so_reuseaddr), value: 1)
                    .channelOption(reusePort, value: 1)
                    .connectTimeout(TimeAmount(deadline))
                    .bind(to: try anyAddress(family: server.protocol, port: localPort))
                    .connect(to: server) { channel in
                        channel.eventLoop.makeCompletedFuture { try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel) }
                    }
                if let port = channel.channel.localAddress?.port { used.withLock { $0 = port } }
                return try await channel.executeThenClose { inbound, outbound in
                    try await outbound.write(ByteBuffer(bytes: request.encoded()))
                    var received: [UInt8] = []
                    for try await chunk in inbound {
                        received += chunk.readableBytesView
                        guard received.count >= StunMessage.headerSize else { continue }
                        guard let size = StunMessage.messageSize(header: received) else {
                            throw StunError.malformed("the reply does not start with a STUN header of at most \(StunMessage.maxSize) bytes")
                        }
                        // One reply is all a server may send; more is not read.
                        if received.count >= size { return try StunMessage(decoding: Array(received.prefix(size))) }
                    }
                    throw StunError.network("the server closed the connection before replying")
                }
            })
        } catch let error as StunError {
            result = .failure(error)
        } catch {
            result = .failure(.network("\(error)"))
        }
        let answer: Answer
        do throws(StunError) {
            answer = try Self.answer(to: request, from: server, reply: result.get())
        } catch {
            answer = Answer(server: server, result: .failure(error), otherAddress: nil)
        }
        return (used.withLock { $0 }, answer)
    }

    /// The answer `reply` gives to `request`, or why it gives none.
    static func answer(to request: StunMessage, from server: SocketAddress, reply: StunMessage) throws(StunError) -> Answer {
        guard reply.transactionID == request.transactionID else { throw .malformed("a reply to another transaction") }
        switch reply.type {
        case StunMessage.MessageType.bindingSuccess:
            guard let mapped = try reply.mappedAddress() else { throw .malformed("a Binding response without a mapped address") }
            return Answer(server: server, result: .success(mapped), otherAddress: try reply.otherAddress())
        case StunMessage.MessageType.bindingError:
            let error = try reply.errorCode()
            throw .errorResponse(code: error?.code ?? 0, reason: error?.reason ?? "")
        default:
            throw .malformed("message type 0x\(String(reply.type, radix: 16)) in reply to a Binding request")
        }
    }

    static let reusePort = ChannelOptions.Types.SocketOption(level: .socket, name: .init(rawValue: SO_REUSEPORT))

    static func anyAddress(family: NIOBSDSocket.ProtocolFamily, port: Int) throws -> SocketAddress {
        try SocketAddress(ipAddress: family == .inet6 ? "::" : "0.0.0.0", port: port)
    }

    /// Runs `body`, cancelled and failed with ``StunError/timeout`` after `duration`.
    static func withDeadline<T: Sendable>(_ duration: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: T?.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await Task.sleep(for: duration)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let value = first else { throw StunError.timeout }
            return value
        }
    }
}

/// The UDP requests in flight from one socket and what came back, shared by the task that
/// retransmits and the one that reads.
final class UDPExchanges: Sendable {
    private struct Exchange {
        let server: SocketAddress
        let request: StunMessage
        var answer: StunProbe.Answer?
    }

    private struct State {
        var exchanges: [Exchange]
        var followOtherAddress: Bool
        var failure: String?
    }

    private let state: Mutex<State>

    init(servers: [SocketAddress], followOtherAddress: Bool) {
        let distinctHosts = Set(servers.compactMap(\.ipAddress)).count
        state = Mutex(State(
            exchanges: servers.map { Exchange(server: $0, request: .bindingRequest(), answer: nil) },
            followOtherAddress: followOtherAddress && distinctHosts < 2))
    }

    /// The requests still without an answer, encoded, for (re)transmission.
    func unanswered() -> [(SocketAddress, [UInt8])] {
        state.withLock { $0.exchanges.filter { $0.answer == nil }.map { ($0.server, $0.request.encoded()) } }
    }

    var isComplete: Bool { state.withLock { $0.exchanges.allSatisfy { $0.answer != nil } } }

    /// Takes a datagram: a reply to one of the requests, from the server it went to, is that
    /// server's answer; anything else is ignored. Returns a request to send now, to the first
    /// reply's OTHER-ADDRESS, when one is needed.
    func take(_ envelope: AddressedEnvelope<ByteBuffer>) -> (server: SocketAddress, bytes: [UInt8])? {
        let bytes = Array(envelope.data.readableBytesView)
        guard let reply = try? StunMessage(decoding: bytes) else { return nil }
        return state.withLock { state -> (server: SocketAddress, bytes: [UInt8])? in
            guard let index = state.exchanges.firstIndex(where: { $0.request.transactionID == reply.transactionID && $0.answer == nil }),
                state.exchanges[index].server == envelope.remoteAddress
            else { return nil }
            let exchange = state.exchanges[index]
            let answer: StunProbe.Answer
            do throws(StunError) {
                answer = try StunProbe.answer(to: exchange.request, from: exchange.server, reply: reply)
            } catch {
                answer = StunProbe.Answer(server: exchange.server, result: .failure(error), otherAddress: nil)
            }
            state.exchanges[index].answer = answer
            guard state.followOtherAddress, let other = answer.otherAddress,
                let address = other.socketAddress,
                address.protocol == exchange.server.protocol, address.ipAddress != exchange.server.ipAddress
            else { return nil }
            state.followOtherAddress = false
            let request = StunMessage.bindingRequest()
            state.exchanges.append(Exchange(server: address, request: request, answer: nil))
            return (address, request.encoded())
        }
    }

    /// A send failed: every request still open fails with it.
    func fail(with reason: String) {
        state.withLock { $0.failure = reason }
    }

    /// One answer per request, ``StunError/timeout`` (or the send failure) for those without.
    func answers() -> [StunProbe.Answer] {
        state.withLock { state in
            state.exchanges.map {
                $0.answer ?? StunProbe.Answer(server: $0.server, result: .failure(state.failure.map { .network($0) } ?? .timeout), otherAddress: nil)
            }
        }
    }
}
