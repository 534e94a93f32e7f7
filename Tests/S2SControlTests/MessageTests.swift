import Foundation
import S2SBus
import S2SClient
import S2SCore
import Testing
@testable import S2SControl

/// The texts of issue 15's message cases that need no daemon.
struct MessageTests {
    static let transfer: ObjectPath = "/org/s2s/Daemon1/transfer/1000_7"

    @Test func aWaitingSendSaysWhenItRetriesInLocalTime() throws {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        var report = WaitingReport()
        let next = UInt64((now.timeIntervalSince1970 + 42) * 1_000_000)
        let info = TransferSnapshot(
            path: Self.transfer, direction: .send, state: .queued, attempts: 1, nextAttempt: next, lastError: "Connection refused")
        let said = report.report(info, now: now)
        let line = try #require(said)
        #expect(line.hasPrefix("s2sctl: attempt 1 failed: Connection refused; retrying in 42 s (at "))
        #expect(line.hasSuffix("); Ctrl-C cancels"))
        #expect(line.range(of: #"\(at \d\d:\d\d:\d\d\)"#, options: .regularExpression) != nil)
        #expect(report.report(info, now: now) == nil, "said once")
        #expect(info.waiting(now: now)?.hasPrefix("retry in 42 s (at ") == true)
    }

    @Test func relativeTimes() {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        func at(_ seconds: Double) -> UInt64 { UInt64((now.timeIntervalSince1970 + seconds) * 1_000_000) }
        #expect(Timestamp.relative(microseconds: at(42), now: now, utcOffset: 0) == "in 42 s (at 08:00:42)")
        #expect(Timestamp.relative(microseconds: at(3_725), now: now, utcOffset: 0) == "in 1 h 2 min (at 09:02:05)")
        #expect(Timestamp.relative(microseconds: at(-5), now: now, utcOffset: 0) == "now")
        #expect(Timestamp.relative(microseconds: at(86_400), now: now, utcOffset: 0) == "in 1 d (at 2027-01-16 08:00:00)")
    }

    @Test func libraryPhrasesBecomeOurs() {
        #expect(ErrorText.humanized("while sending: I/O on closed channel") == "while sending: the connection was closed")
        #expect(ErrorText.humanized("Connection refused") == "Connection refused")
    }

    @Test func digestNamesAreSpelledAsChecksumTakesThem() throws {
        #expect(TransferSnapshot.digestName("xxh3_128") == "xxh3-128")
        #expect(TransferSnapshot.digestName("sha256") == "sha256")
    }

    @Test func aReceiveNamesTheFileAndTheDirectory() {
        let received = TransferSnapshot(
            path: Self.transfer, direction: .receive, state: .cancelled, error: "cancelled",
            endpoint: "/org/s2s/Daemon1/endpoint/1000_1", names: ["report.pdf"])
        #expect(received.summary(directory: "/srv/in") == "report.pdf into /srv/in")
        #expect(received.whatColumn(directory: "/srv/in") == "report.pdf into /srv/in", "a reason that is the state is not repeated")
        let folder = TransferSnapshot(path: Self.transfer, direction: .receive, state: .receiving, names: ["photos/"])
        #expect(folder.summary(directory: nil) == "photos/ into an endpoint that no longer exists")
    }

    @Test func aFailedSendSaysItsReasonOnce() {
        #expect(SendCommand.ending(.failed, error: "quota exceeded") == "transfer failed: quota exceeded")
        #expect(SendCommand.ending(.cancelled, error: "cancelled") == "cancelled")
        #expect(SendCommand.ending(.failed, error: nil) == "transfer failed")
    }

    @Test func watchProgressHasPercentAndETA() {
        let progress = TransferProgress(
            state: .receiving, bytesDone: 4 << 20, bytesTotal: 10 << 20, filesDone: 0, filesTotal: 1, rate: 2 << 20, currentFile: "f")
        #expect(WatchCommand.text(progress) == "receiving: 40% 4 MiB/10 MiB, 0/1 files, 2 MiB/s, ETA 0:03")
    }

    @Test func statusLinesShareOneColumn() throws {
        let status = StatusCommand.Status(
            bus: "system", version: "1", started: "2026-01-01T00:00:00Z", peerListeners: [], endpoints: 1, maxEndpointsPerUser: 10,
            idleTimeoutSeconds: nil, queuedSends: 2, activeSends: 1, runningTransfers: 0, relayEndpoints: 1, relayEndpointsConnected: 1)
        let lines = StatusCommand.details(status, running: [], relays: ["relay.example:7000"], now: Date())
        #expect(lines.map(\.0) == ["Since", "Endpoints", "Transfers", "Send queue", "Relays", "Peer sockets", "Idle exit"])
        #expect(lines[3].1 == "2 waiting, 1 active")
        #expect(lines[4].1 == "1 of 1 endpoint connected at relay.example:7000")
    }
}
