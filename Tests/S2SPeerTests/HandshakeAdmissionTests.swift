import NIOCore
import S2SPeer
import Testing

/// ``HandshakeAdmission`` as pure logic: the caps, the early drop's curve, and its random draw
/// through an injected generator.
struct HandshakeAdmissionTests {
    /// A generator that always returns one value: 1 makes `Int.random(in: 0..<100)` draw 0 (always
    /// below a drop percentage; 0 would make its rejection sampling loop for ever), `UInt64.max`
    /// draws 99 (below 100 % only).
    struct FixedGenerator: RandomNumberGenerator {
        let value: UInt64
        mutating func next() -> UInt64 { value }
    }

    static func source(_ address: String) throws -> HandshakeSource {
        HandshakeSource(try SocketAddress(ipAddress: address, port: 40000))
    }

    @Test func aSourceAtItsCapIsRefusedWhileOthersAreAdmitted() throws {
        var admission = HandshakeAdmission(policy: .init(maxConcurrentHandshakes: 64, maxHandshakesPerSource: 4))
        var never = FixedGenerator(value: .max)
        let flood = try Self.source("127.0.0.1")
        let other = try Self.source("127.0.0.2")
        for _ in 0..<4 { #expect(admission.admit(flood, now: .zero, using: &never) == .admitted) }
        for _ in 0..<100 { #expect(admission.admit(flood, now: .zero, using: &never) == .refusedSourceLimit) }
        #expect(admission.admit(other, now: .zero, using: &never) == .admitted)
        #expect(admission.unfinished == 5)
        #expect(admission.unfinished(of: flood) == 4)
        admission.release(flood)
        #expect(admission.admit(flood, now: .zero, using: &never) == .admitted)
        for _ in 0..<4 { admission.release(flood) }
        admission.release(other)
        admission.release(other)  // not admitted any more: ignored
        #expect(admission.unfinished == 0)
        #expect(admission.sources == 0)
    }

    @Test func aFullTableRefusesEveryone() throws {
        var admission = HandshakeAdmission(
            policy: .init(maxConcurrentHandshakes: 4, maxHandshakesPerSource: 4, earlyDropStart: 4))
        var never = FixedGenerator(value: .max)
        for index in 1...4 { #expect(admission.admit(try Self.source("10.0.0.\(index)"), now: .zero, using: &never) == .admitted) }
        #expect(admission.admit(try Self.source("10.0.0.9"), now: .zero, using: &never) == .refusedFull)
        admission.release(try Self.source("10.0.0.1"))
        #expect(admission.admit(try Self.source("10.0.0.9"), now: .zero, using: &never) == .admitted)
    }

    @Test func theEarlyDropRisesLinearlyToAFullTable() {
        let admission = HandshakeAdmission(
            policy: .init(maxConcurrentHandshakes: 64, earlyDropStart: 32, earlyDropRate: 30))
        #expect(admission.dropPercent(atUnfinished: 0) == 0)
        #expect(admission.dropPercent(atUnfinished: 31) == 0)
        #expect(admission.dropPercent(atUnfinished: 32) == 30)
        #expect(admission.dropPercent(atUnfinished: 48) == 65)
        #expect(admission.dropPercent(atUnfinished: 63) == 97)
        #expect(admission.dropPercent(atUnfinished: 64) == 100)
    }

    @Test func theEarlyDropDrawsFromTheGivenGenerator() throws {
        var admission = HandshakeAdmission(
            policy: .init(maxConcurrentHandshakes: 8, maxHandshakesPerSource: 8, earlyDropStart: 4, earlyDropRate: 50))
        var never = FixedGenerator(value: .max)
        var always = FixedGenerator(value: 1)
        let source = try Self.source("192.0.2.1")
        // Below the start, even a draw of 0 admits.
        for _ in 0..<4 { #expect(admission.admit(source, now: .zero, using: &always) == .admitted) }
        #expect(admission.admit(source, now: .zero, using: &always) == .refusedEarlyDrop)
        #expect(admission.unfinished == 4, "a dropped connection takes no slot")
        #expect(admission.admit(source, now: .zero, using: &never) == .admitted)
    }

    @Test func aLegitimateSenderGetsThroughAFloodFromOneAddress() throws {
        // The defaults, with a flood from one address that retries without end: it holds its
        // per-source share, the table never reaches the early drop, and another address always
        // gets a slot at the first try.
        var admission = HandshakeAdmission(policy: .default)
        var generator = SystemRandomNumberGenerator()
        let flood = try Self.source("127.0.0.1")
        var admittedFlood = 0
        for _ in 0..<10_000 where admission.admit(flood, now: .zero, using: &generator) == .admitted { admittedFlood += 1 }
        #expect(admittedFlood == HandshakeAdmission.Policy.defaultMaxHandshakesPerSource)
        for index in 2...20 {
            #expect(admission.admit(try Self.source("127.0.0.\(index)"), now: .zero, using: &generator) == .admitted)
        }
    }

    @Test func policyNumbersAreClamped() {
        let policy = HandshakeAdmission.Policy(
            maxConcurrentHandshakes: 0, maxHandshakesPerSource: 99, earlyDropStart: -5, earlyDropRate: 250)
        #expect(policy.maxConcurrentHandshakes == 1)
        #expect(policy.maxHandshakesPerSource == 1)
        #expect(policy.earlyDropStart == 0)
        #expect(policy.earlyDropRate == 100)
        let small = HandshakeAdmission.Policy(maxConcurrentHandshakes: 8)
        #expect(small.maxHandshakesPerSource == 8)
        #expect(small.earlyDropStart == 8, "a small table never drops at random unless told to")
    }

    @Test func sourcesAreAddressesAndIPv6Slash64s() throws {
        #expect(try Self.source("127.0.0.1") != Self.source("127.0.0.2"))
        #expect(try Self.source("2001:db8::1") == Self.source("2001:db8::ffff:2"))
        #expect(try Self.source("2001:db8::1") != Self.source("2001:db8:0:1::1"))
        #expect(try Self.source("::ffff:10.0.0.1") == Self.source("10.0.0.1"))
        #expect(try "\(Self.source("10.1.2.3"))" == "10.1.2.3")
        #expect(try "\(Self.source("2001:db8::1"))" == "2001:db8:0:0::/64")
    }

    @Test func aSourceWhoseConnectionsTimeOutIsShutOutUnderPressure() throws {
        // Penalties: 2 s per timeout, refused above 8 s, only while 4 or more are unfinished.
        var admission = HandshakeAdmission(
            policy: .init(maxConcurrentHandshakes: 8, maxHandshakesPerSource: 4, earlyDropStart: 4, earlyDropRate: 0))
        var never = FixedGenerator(value: .max)
        let attacker = try Self.source("198.51.100.7")
        let sender = try Self.source("203.0.113.5")
        for _ in 0..<5 { admission.penalize(attacker, now: .seconds(10)) }
        #expect(admission.penalty(of: attacker, now: .seconds(10)) == .seconds(10))
        // A quiet table: the penalty does not apply.
        #expect(admission.admit(attacker, now: .seconds(10), using: &never) == .admitted)
        admission.release(attacker)
        // Under pressure (4 unfinished from others): refused, while a sender without one gets in.
        for index in 1...4 { _ = admission.admit(try Self.source("192.0.2.\(index)"), now: .seconds(10), using: &never) }
        #expect(admission.admit(attacker, now: .seconds(10), using: &never) == .refusedPenalty)
        #expect(admission.admit(sender, now: .seconds(10), using: &never) == .admitted)
        // The penalty drains in real time: after 2 s it is down to the grace, and forgiven.
        #expect(admission.penalty(of: attacker, now: .seconds(12)) == .seconds(8))
        #expect(admission.admit(attacker, now: .seconds(12), using: &never) == .admitted)
        // One timeout of an honest sender is forgiven at once.
        admission.penalize(sender, now: .seconds(12))
        #expect(admission.admit(sender, now: .seconds(12), using: &never) == .admitted)
        // The penalty is capped.
        for _ in 0..<1000 { admission.penalize(attacker, now: .seconds(20)) }
        #expect(admission.penalty(of: attacker, now: .seconds(20)) == HandshakeAdmission.Policy.defaultMaxPenalty)
    }
}
