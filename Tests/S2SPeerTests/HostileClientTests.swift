import Synchronization
import Crypto
import NIOCore
import S2SPeer
import S2SProtocol
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Clients that break the protocol on purpose: each is cut off, and the server serves the next
/// good client as if nothing happened, with no connection left behind.
@Suite(.timeLimit(.minutes(2)))
struct HostileClientTests {
    /// Short timers so the tests are quick; the record limit is the smallest allowed.
    /// Timers long enough that a slow, loaded machine cannot fire them early or blur "at once"
    /// with "by a timer": the unit suites run in parallel on 2 cores, and CPU-bound fuzz suites can
    /// hold the cooperative threads for seconds.
    static let limits = ProtocolLimits(
        maxRecordSize: 8192, handshakeTimeout: .seconds(10), idleTimeout: .seconds(12))

    @Test func garbageInsteadOfPreamble() async throws {
        try await TestServer.with(limits: Self.limits) { server in
            let outcome = try await RawClient.with(server.address) { inbound, outbound in
                try await RawClient.write(Array("GET / HTTP/1.1\r\nHost: example\r\n\r\n.....".utf8), outbound)
                return await RawClient.readToEnd(&inbound)
            }
            #expect(outcome.ended)
            #expect(outcome.frames.isEmpty, "the receiver closes without a word")
            try await server.waitForIdle()
            #expect(server.errors.withLock { $0 } == [.protocolError(.badPreambleMagic)])
            try await server.goodClientWorks()
        }
    }

    @Test func garbageAfterHandshake() async throws {
        try await TestServer.with(limits: Self.limits) { server in
            let outcome = try await RawClient.with(server.address) { inbound, outbound in
                _ = try await RawClient.handshake(endpointKey: server.endpointKey, &inbound, outbound)
                try await RawClient.write(RawClient.frame([UInt8](repeating: 0x5a, count: 100)), outbound)
                return await RawClient.readToEnd(&inbound)
            }
            #expect(outcome.ended)
            #expect(outcome.frames.isEmpty, "a message that fails to decrypt closes at once, without a word")
            try await server.waitForIdle()
            #expect(server.errors.withLock { $0 } == [.noise(.decryptionFailed)])
            try await server.goodClientWorks()
        }
    }

    @Test func malformedRecordIsAnsweredWithCancel() async throws {
        try await TestServer.with(limits: Self.limits) { server in
            let (outcome, receiveCipher) = try await RawClient.with(server.address) { inbound, outbound in
                var ciphers = try await RawClient.handshake(endpointKey: server.endpointKey, &inbound, outbound)
                let sealed = try ciphers.send.encrypt([0x77, 1, 2])
                try await RawClient.write(RawClient.frame(sealed), outbound)
                return (await RawClient.readToEnd(&inbound), ciphers.receive)
            }
            var cipher = receiveCipher
            #expect(outcome.ended)
            let records = try outcome.frames.map { try Record.decode(cipher.decrypt(Array($0.readableBytesView)), limits: .default) }
            #expect(records.filter { $0 != .keepalive } == [.cancel(.protocolError)])
            try await server.waitForIdle()
            #expect(server.errors.withLock { $0 } == [.protocolError(.unknownRecordType(0x77))])
            try await server.goodClientWorks()
        }
    }

    @Test func frameAboveTheLimit() async throws {
        try await TestServer.with(limits: Self.limits) { server in
            let outcome = try await RawClient.with(server.address) { inbound, outbound in
                _ = try await RawClient.handshake(endpointKey: server.endpointKey, &inbound, outbound)
                // Only the length and a few bytes: the receiver must not wait for the body.
                try await RawClient.write([0xff, 0xff, 1, 2, 3], outbound)
                return await RawClient.readToEnd(&inbound)
            }
            #expect(outcome.ended)
            // The error says why it ended; the bound, below the idle timer (12 s), that it did
            // not wait for the body.
            #expect(outcome.elapsed < .seconds(11), "cut off at once, not by the idle timer")
            try await server.waitForIdle()
            #expect(server.errors.withLock { $0 } == [.frameTooLarge(length: 65535, limit: 8192 + 16)])
            try await server.goodClientWorks()
        }
    }

    @Test func zeroLengthFrame() async throws {
        try await TestServer.with(limits: Self.limits) { server in
            let outcome = try await RawClient.with(server.address) { inbound, outbound in
                _ = try await RawClient.handshake(endpointKey: server.endpointKey, &inbound, outbound)
                try await RawClient.write([0, 0], outbound)
                return await RawClient.readToEnd(&inbound)
            }
            #expect(outcome.ended)
            try await server.waitForIdle()
            #expect(server.errors.withLock { $0 } == [.malformedFrame("frame of length 0")])
            try await server.goodClientWorks()
        }
    }

    @Test func truncatedFrameThenClose() async throws {
        try await TestServer.with(limits: Self.limits) { server in
            let outcome = try await RawClient.with(server.address) { inbound, outbound in
                _ = try await RawClient.handshake(endpointKey: server.endpointKey, &inbound, outbound)
                try await RawClient.write([0x00, 0x40] + [UInt8](repeating: 9, count: 10), outbound)
                outbound.finish()  // half-close: the stream ends inside the frame
                return await RawClient.readToEnd(&inbound)
            }
            #expect(outcome.ended)
            try await server.waitForIdle()
            let errors = server.errors.withLock { $0 }
            #expect(errors.count == 1)
            if case .malformedFrame(let reason) = errors.first {
                #expect(reason.contains("stream ended inside a frame"))
            } else {
                Issue.record("expected a malformed frame, got \(errors)")
            }
            try await server.goodClientWorks()
        }
    }

    /// One byte at a time, never a whole frame: the idle timer counts only complete frames.
    @Test func slowLorisIsCutOffByTheIdleTimer() async throws {
        let limits = ProtocolLimits(maxRecordSize: 8192, handshakeTimeout: .seconds(10), idleTimeout: .seconds(2))
        try await TestServer.with(limits: limits) { server in
            let (outcome, receiveCipher) = try await RawClient.with(server.address) { inbound, outbound in
                var ciphers = try await RawClient.handshake(endpointKey: server.endpointKey, &inbound, outbound)
                let frame = RawClient.frame(try ciphers.send.encrypt([0x31]))
                // 17 + 2 bytes at 250 ms each: 4.75 s, more than twice the 2 s idle timeout.
                for byte in frame {
                    do {
                        try await RawClient.write([byte], outbound)
                    } catch {
                        break  // the server closed the connection
                    }
                    try await Task.sleep(for: .milliseconds(250))
                }
                return (await RawClient.readToEnd(&inbound), ciphers.receive)
            }
            var cipher = receiveCipher
            #expect(outcome.ended)
            let records = try outcome.frames.map { try Record.decode(cipher.decrypt(Array($0.readableBytesView)), limits: .default) }
            #expect(records.filter { $0 != .keepalive } == [.cancel(.timeout)])
            try await server.waitForIdle()
            #expect(server.errors.withLock { $0 } == [.timeout(.idle)])
            try await server.goodClientWorks()
        }
    }

    @Test func handshakeNeverFinished() async throws {
        try await TestServer.with(limits: Self.limits) { server in
            let outcome = try await RawClient.with(server.address) { inbound, outbound in
                // A valid preamble, then nothing.
                try await RawClient.write(try EndpointSelector(endpointKey: server.endpointKey).encoded(), outbound)
                return await RawClient.readToEnd(&inbound)
            }
            #expect(outcome.ended)
            #expect(outcome.frames.isEmpty)
            #expect(outcome.elapsed >= .milliseconds(400))
            try await server.waitForIdle()
            #expect(server.errors.withLock { $0 } == [.timeout(.handshake)])
            try await server.goodClientWorks()
        }
    }

    @Test func silentConnectionsBeyondTheHandshakeBoundAreClosed() async throws {
        try await TestServer.with(limits: Self.limits, maxConcurrentHandshakes: 1) { server in
            try await RawClient.with(server.address) { firstInbound, _ in
                // The first connection holds the only handshake slot; the second is closed at once.
                while server.server.statistics.handshaking < 1 { try await Task.sleep(for: .milliseconds(5)) }
                // It is reset when accepted: the reset may even come before the client is set up.
                let started = ContinuousClock.now
                do {
                    let outcome = try await RawClient.with(server.address) { inbound, _ in
                        await RawClient.readToEnd(&inbound)
                    }
                    #expect(outcome.ended)
                } catch let error as IOError where error.errnoCode == ECONNRESET {
                }
                // Closed by the bound, not by a handshake timer: the first connection, older and
                // on the same timer, is still waiting for it. (A loaded machine can take seconds
                // to get here, so the order is what is checked, with a bound below the timer.)
                #expect(server.errors.withLock { $0 }.contains(.timeout(.handshake)) == false)
                #expect(ContinuousClock.now - started < .seconds(9), "before the handshake timer (10 s)")
                _ = await RawClient.readToEnd(&firstInbound)
            }
            try await server.waitForIdle()
            #expect(server.server.statistics.failedHandshakes == 2)
            try await server.goodClientWorks()
        }
    }
}
