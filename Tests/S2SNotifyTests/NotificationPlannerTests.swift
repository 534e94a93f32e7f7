import S2SCore
import S2SBus
import S2SClient
import Testing
@testable import S2SNotify

/// When notifications appear, update, coalesce and go: the planner with an explicit clock.
struct NotificationPlannerTests {
    static let endpoint: ObjectPath = "/org/s2s/Daemon1/endpoint/1000_1"
    let start = ContinuousClock.now

    func at(_ seconds: Double) -> ContinuousClock.Instant { start + .milliseconds(Int(seconds * 1000)) }

    func path(_ number: Int) -> ObjectPath { ObjectPath("/org/s2s/Daemon1/transfer/1000_\(number)") ?? "/" }

    func incoming(_ number: Int, bytes: UInt64 = 100 << 20) -> TransferSnapshot {
        TransferSnapshot(path: path(number), direction: .receive, state: .receiving, bytesTotal: bytes, filesTotal: 1, endpoint: Self.endpoint)
    }

    func progress(_ done: UInt64, of total: UInt64 = 100 << 20, file: String = "big.bin") -> TransferProgress {
        TransferProgress(state: .receiving, bytesDone: done, bytesTotal: total, filesDone: 0, filesTotal: 1, rate: 1, currentFile: file)
    }

    func done(_ number: Int, bytes: UInt64 = 100 << 20) -> TransferSnapshot {
        TransferSnapshot(
            path: path(number), direction: .receive, state: .done, bytesDone: bytes, bytesTotal: bytes, filesDone: 1,
            filesTotal: 1, endpoint: Self.endpoint)
    }

    func planner() -> NotificationPlanner {
        var planner = NotificationPlanner(capabilities: ServerCapabilities(actions: true))
        planner.setEndpointDirectory("/home/ann/Downloads", for: Self.endpoint)
        return planner
    }

    func shows(_ commands: [PlannerCommand]) -> [(NotificationKey, NotificationContent, NotificationKey?)] {
        commands.compactMap { if case .show(let key, let content, let takeOver) = $0 { (key, content, takeOver) } else { nil } }
    }

    @Test func aQuickTransferShowsOnlyItsResult() {
        var planner = planner()
        #expect(planner.added(incoming(1), at: at(0)).isEmpty)
        #expect(planner.progress(path(1), progress(50 << 20), at: at(0.25)).isEmpty)
        #expect(planner.tick(at: at(0.5)).isEmpty)
        let commands = planner.finished(done(1), at: at(0.7))
        let shown = shows(commands)
        #expect(shown.count == 1)
        #expect(shown.first?.0 == .batch(BatchKey(direction: .receive, target: Self.endpoint.rawValue)))
        #expect(shown.first?.1.body == "big.bin (100 MiB) arrived in Downloads")
        #expect(shown.first?.2 == nil)
    }

    @Test func aLongTransferIsShownAfterTheDelayAndUpdatedAtMostOnceASecond() {
        var planner = planner()
        _ = planner.added(incoming(1), at: at(0))
        #expect(planner.tick(at: at(0.9)).isEmpty)
        let first = shows(planner.tick(at: at(1.0)))
        #expect(first.count == 1 && first[0].0 == .transfer(path(1)))
        #expect(first[0].1.progress == 0)
        // Four progress signals a second: only one update a second goes out.
        var updates = 0
        var time = 1.0
        var done: UInt64 = 0
        while time < 5.0 {
            time += 0.25
            done += 4 << 20
            updates += shows(planner.progress(path(1), progress(done), at: at(time))).count
            updates += shows(planner.tick(at: at(time))).count
        }
        #expect(updates == 4)
        // What changed since the last update goes out when the interval allows it.
        _ = planner.progress(path(1), progress(99 << 20), at: at(5.1))
        let trailing = shows(planner.tick(at: at(6.0)))
        #expect(trailing.count == 1 && trailing[0].1.progress == 99)
        #expect(shows(planner.tick(at: at(8.0))).isEmpty, "nothing changed: no update")
    }

    @Test func theRunningNotificationBecomesTheResult() {
        var planner = planner()
        _ = planner.added(incoming(1), at: at(0))
        _ = planner.tick(at: at(1))
        let commands = planner.finished(done(1), at: at(3))
        #expect(commands.count == 1)
        let shown = shows(commands)
        #expect(shown.first?.2 == .transfer(path(1)), "the progress notification is replaced in place")
        #expect(shown.first?.1.summary == "File received")
    }

    @Test func smallTransfersCoalesceIntoOneMessage() {
        var planner = planner()
        var batchShows: [NotificationContent] = []
        for number in 1...12 {
            _ = planner.added(incoming(number, bytes: 300 * 1024), at: at(Double(number) * 0.5))
            for command in planner.finished(done(number, bytes: 300 * 1024), at: at(Double(number) * 0.5 + 0.2)) {
                guard case .show(.batch, let content, let takeOver) = command else {
                    Issue.record("unexpected \(command)")
                    continue
                }
                #expect(takeOver == nil)
                batchShows.append(content)
            }
        }
        #expect(batchShows.count == 12, "one message updated in place, once per transfer")
        #expect(batchShows.last?.body == "12 files (3.5 MiB) arrived in Downloads")
    }

    @Test func aLaterTransferStartsANewMessage() {
        var planner = planner()
        _ = planner.added(incoming(1), at: at(0))
        _ = planner.finished(done(1), at: at(0.2))
        let forgotten = planner.tick(at: at(11))
        #expect(forgotten == [.forget(.batch(BatchKey(direction: .receive, target: Self.endpoint.rawValue)))])
        _ = planner.added(incoming(2), at: at(20))
        let shown = shows(planner.finished(done(2), at: at(20.2)))
        #expect(shown.first?.1.body == "1 file (100 MiB) arrived in Downloads")
    }

    @Test func aDismissedMessageIsNotReused() {
        var planner = planner()
        let key = BatchKey(direction: .receive, target: Self.endpoint.rawValue)
        _ = planner.finished(done(1), at: at(0.2))
        planner.closed(.batch(key))
        let commands = planner.finished(done(2), at: at(1))
        #expect(commands.first == .forget(.batch(key)))
        #expect(shows(commands).first?.1.body == "1 file (100 MiB) arrived in Downloads")
    }

    @Test func aDismissedProgressNotificationIsNotUpdated() {
        var planner = planner()
        _ = planner.added(incoming(1), at: at(0))
        _ = planner.tick(at: at(1))
        planner.closed(.transfer(path(1)))
        #expect(planner.progress(path(1), progress(10), at: at(3)).isEmpty)
        #expect(planner.tick(at: at(4)).isEmpty)
    }

    @Test func aFailureReplacesTheProgressNotification() {
        var planner = planner()
        _ = planner.added(incoming(1), at: at(0))
        _ = planner.progress(path(1), progress(10 << 20), at: at(0.5))
        _ = planner.tick(at: at(1))
        let commands = planner.finished(path(1), state: .cancelled, error: "cancelled by the receiver", at: at(2))
        #expect(commands.count == 2)
        #expect(commands.last == .forget(.transfer(path(1))))
        let shown = shows(commands)
        #expect(shown.first?.0 == .transfer(path(1)))
        #expect(shown.first?.1.summary == "Receiving big.bin cancelled")
        #expect(shown.first?.1.body.hasPrefix("Cancelled by the receiver\n") == true)
    }

    @Test func theDaemonGoingAwayInterruptsWhatWasShown() {
        var planner = planner()
        _ = planner.added(incoming(1), at: at(0))
        _ = planner.added(incoming(2), at: at(0.5))
        _ = planner.tick(at: at(1))
        let commands = planner.daemonVanished()
        #expect(shows(commands).map(\.1.summary) == ["Receiving 1 file interrupted"])
        #expect(!planner.isTracking(path(1)) && !planner.isTracking(path(2)))
    }

    @Test func aNewServerGetsTheRunningTransfersAgain() {
        var planner = planner()
        _ = planner.added(incoming(1), at: at(0))
        _ = planner.tick(at: at(1))
        planner.serverChanged(ServerCapabilities(actions: false))
        let again = shows(planner.tick(at: at(1.25)))
        #expect(again.count == 1 && again[0].1.actions.isEmpty)
    }

    @Test func stoppingClosesOnlyRunningNotifications() {
        var planner = planner()
        _ = planner.added(incoming(1), at: at(0))
        _ = planner.added(incoming(2), at: at(0.8))
        _ = planner.tick(at: at(1))
        #expect(planner.shutDown() == [.close(.transfer(path(1)))])
    }
}
