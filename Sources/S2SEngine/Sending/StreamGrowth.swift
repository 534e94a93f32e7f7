import S2SPeer

/// When an automatically striped transfer opens one more connection (docs/protocol.md, "Striped
/// sessions"): when, over the last ``interval``, its connections were sending at least half of the
/// time and spent a quarter of that or more held back by a socket buffer or the receiver's window.
/// Then each connection is capped by its buffers, not by the path or by the sender's own pace, and
/// another one adds throughput. A transfer limited by its rate limit or by a disk is not busy
/// sending, and one limited by the path's capacity is not held back by buffers: neither grows.
///
/// The counters are `TCP_INFO`'s, cumulative per connection; each sample is compared with the
/// previous one of the same connection, so connections that joined or ended in between count
/// from their next sample.
struct StreamGrowth {
    /// How often the connections are sampled, in microseconds (`TCP_INFO`'s unit).
    static let intervalMicroseconds: UInt64 = 2_000_000
    static var interval: Duration { .microseconds(intervalMicroseconds) }
    /// Of the interval, the share (percent) the connections must have been sending on average.
    static let busyPercent: UInt64 = 50
    /// Of their sending time, the share (percent) a buffer or window must have held them back:
    /// as much as makes the journal say so at the end (``TCPPathReport/significantPercent``).
    static let limitedPercent = UInt64(TCPPathReport.significantPercent)

    private var previous: [ObjectIdentifier: TCPPathReport] = [:]

    /// Takes one sample of every connection (`interval` after the last) and says whether to open
    /// one more.
    mutating func sample(_ reports: [(connection: ObjectIdentifier, report: TCPPathReport)]) -> Bool {
        var busy: UInt64 = 0
        var limited: UInt64 = 0
        var compared: UInt64 = 0
        var long = true
        for (connection, report) in reports {
            defer { previous[connection] = report }
            long = long && report.roundTrip >= TCPPathReport.longLink
            guard let before = previous[connection], report.busyTime >= before.busyTime else { continue }
            compared += 1
            busy += report.busyTime - before.busyTime
            limited += report.sendBufferLimited &- before.sendBufferLimited
            limited += report.receiveWindowLimited &- before.receiveWindowLimited
        }
        let current = Set(reports.map(\.connection))
        previous = previous.filter { current.contains($0.key) }
        guard long, compared > 0, busy > 0 else { return false }
        return busy * 100 >= compared * Self.intervalMicroseconds * Self.busyPercent && min(limited, busy) * 100 >= busy * Self.limitedPercent
    }
}
