import Testing
import S2SPeer
@testable import S2SEngine

/// When an automatically striped transfer opens one more connection.
struct StreamGrowthTests {
    private final class Connection {}

    /// A connection's cumulative `TCP_INFO` after `seconds` of sending, busy for `busy` of each
    /// second and held back by its send buffer (or the receiver's window) for `limited` of that.
    private static func report(
        after seconds: UInt64, busy: Double, limited: Double, window: Bool = false, roundTripMs: UInt32 = 50
    ) -> TCPPathReport {
        let busyTime = UInt64(Double(seconds * 1_000_000) * busy)
        let limitedTime = UInt64(Double(busyTime) * limited)
        return TCPPathReport(
            roundTrip: roundTripMs * 1000, busyTime: busyTime, receiveWindowLimited: window ? limitedTime : 0,
            sendBufferLimited: window ? 0 : limitedTime)
    }

    /// Samples `connections` at 0, 2, 4 … s, each reporting `shape(seconds)`; the decisions after
    /// the first sample.
    private static func decisions(
        _ connections: [AnyObject], samples: Int, _ shape: (UInt64) -> TCPPathReport
    ) -> [Bool] {
        var growth = StreamGrowth()
        return (0..<samples).map { index in
            let seconds = UInt64(index) * 2
            return growth.sample(connections.map { (ObjectIdentifier($0), shape(seconds)) })
        }
    }

    @Test func connectionsHeldBackByTheirBuffersGrow() {
        let connections = [Connection(), Connection(), Connection(), Connection()]
        #expect(Self.decisions(connections, samples: 3) { Self.report(after: $0, busy: 0.95, limited: 0.4) } == [false, true, true])
        // The receiver's window counts as the send buffer does.
        #expect(
            Self.decisions(connections, samples: 2) { Self.report(after: $0, busy: 0.95, limited: 0.4, window: true) }
                == [false, true])
    }

    /// A transfer held back by its rate limit or its disk (not busy sending), one that the path
    /// itself holds back (busy, never buffer-limited), and one on a LAN do not grow.
    @Test func otherLimitsDoNotGrow() {
        let connections = [Connection(), Connection()]
        #expect(Self.decisions(connections, samples: 4) { Self.report(after: $0, busy: 0.3, limited: 0.9) } == [false, false, false, false])
        #expect(Self.decisions(connections, samples: 4) { Self.report(after: $0, busy: 1, limited: 0.1) } == [false, false, false, false])
        #expect(
            Self.decisions(connections, samples: 4) { Self.report(after: $0, busy: 1, limited: 0.9, roundTripMs: 1) }
                == [false, false, false, false])
    }

    /// A connection counts from its second sample: one that just joined (its counters since its
    /// start) does not make the interval look busier than it was.
    @Test func aNewConnectionCountsFromItsSecondSample() {
        var growth = StreamGrowth()
        let old = Connection()
        let new = Connection()
        let idle = Self.report(after: 0, busy: 0, limited: 0)
        let first = growth.sample([(ObjectIdentifier(old), idle)])
        #expect(!first)
        // The old one was idle; the new one reports a long, limited history of its own.
        let sample = [
            (ObjectIdentifier(old), Self.report(after: 2, busy: 0.1, limited: 0)),
            (ObjectIdentifier(new), Self.report(after: 60, busy: 1, limited: 1)),
        ]
        let second = growth.sample(sample)
        #expect(!second)
    }
}
