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
        for _ in 0..<4 { #expect(admission.admit(flood, using: &never) == .admitted) }
        for _ in 0..<100 { #expect(admission.admit(flood, using: &never) == .refusedSourceLimit) }
        #expect(admission.admit(other, using: &never) == .admitted)
        #expect(admission.unfinished == 5)
        #expect(admission.unfinished(of: flood) == 4)
        admission.release(flood)
        #expect(admission.admit(flood, using: &never) == .admitted)
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
        for index in 1...4 { #expect(admission.admit(try Self.source("10.0.0.\(index)"), using: &never) == .admitted) }
        #expect(admission.admit(try Self.source("10.0.0.9"), using: &never) == .refusedFull)
        admission.release(try Self.source("10.0.0.1"))
        #expect(admission.admit(try Self.source("10.0.0.9"), using: &never) == .admitted)
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
        for _ in 0..<4 { #expect(admission.admit(source, using: &always) == .admitted) }
        #expect(admission.admit(source, using: &always) == .refusedEarlyDrop)
        #expect(admission.unfinished == 4, "a dropped connection takes no slot")
        #expect(admission.admit(source, using: &never) == .admitted)
    }

    @Test func aLegitimateSenderGetsThroughAFloodFromOneAddress() throws {
        // The defaults, with a flood from one address that retries without end: it holds its
        // per-source share, the table never reaches the early drop, and another address always
        // gets a slot at the first try.
        var admission = HandshakeAdmission(policy: .default)
        var generator = SystemRandomNumberGenerator()
        let flood = try Self.source("127.0.0.1")
        var admittedFlood = 0
        for _ in 0..<10_000 where admission.admit(flood, using: &generator) == .admitted { admittedFlood += 1 }
        #expect(admittedFlood == HandshakeAdmission.Policy.defaultMaxHandshakesPerSource)
        for index in 2...20 {
            #expect(admission.admit(try Self.source("127.0.0.\(index)"), using: &generator) == .admitted)
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
}
