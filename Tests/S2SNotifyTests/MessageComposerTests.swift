import S2SCore
import S2SBus
import S2SClient
import Testing
@testable import S2SNotify

/// The words of the notifications: what a person reads for each situation.
struct MessageComposerTests {
    static let path: ObjectPath = "/org/s2s/Daemon1/transfer/1000_7"
    static let endpoint: ObjectPath = "/org/s2s/Daemon1/endpoint/1000_1"
    static let id = "s2s1s5s0qzvfxzn4gayt0hwtg0hhtgxm7wsdycup4a8t5j5ca25mfe4qd9kala"
    let plain = MessageComposer(capabilities: ServerCapabilities(actions: true, bodyMarkup: false))
    let markup = MessageComposer(capabilities: ServerCapabilities(actions: true, bodyMarkup: true))

    func receiving(_ currentFile: String = "report.pdf", files: UInt64 = 1) -> TransferSnapshot {
        TransferSnapshot(
            path: Self.path, direction: .receive, state: .receiving, bytesDone: 50 << 20, bytesTotal: 200 << 20,
            filesTotal: files, rate: 5 << 20, endpoint: Self.endpoint, currentFile: currentFile)
    }

    @Test func aRunningIncomingFileShowsProgressPlaceAndCancel() {
        let content = plain.running(receiving(), endpointDirectory: "/home/ann/Downloads")
        #expect(content.summary == "Receiving report.pdf")
        #expect(content.body == "50 MiB of 200 MiB, 5 MiB/s\ninto Downloads")
        #expect(content.progress == 25)
        #expect(content.actions == [.cancel(Self.path)])
        #expect(content.actionStrings == ["cancel", "Cancel"])
        #expect(content.expireTimeout == 0)
        #expect(content.category == "transfer")
    }

    @Test func anIncomingTransferItsSenderPausedSaysWho() {
        var view = receiving()
        view.state = .paused
        #expect(plain.running(view, endpointDirectory: "/home/ann/Downloads").body == "Paused by the sender\ninto Downloads")
    }

    @Test func aFolderIsNamedAsAFolder() {
        let content = plain.running(receiving("photos/2024/a.jpg", files: 300), endpointDirectory: "/srv/in")
        #expect(content.summary == "Receiving folder photos")
    }

    @Test func anOutgoingTransferNamesItsShortDestination() {
        let view = TransferSnapshot(
            path: Self.path, direction: .send, state: .sending, bytesDone: 1024, bytesTotal: 4096,
            destination: "\(Self.id)@nas.example.org:7730", sources: ["/home/ann/report.pdf"])
        let content = plain.running(view, endpointDirectory: nil)
        #expect(content.summary == "Sending report.pdf")
        #expect(content.body == "1 KiB of 4 KiB\nto s2s1s5s0…kala at nas.example.org:7730")
    }

    @Test func withoutActionsThereAreNoButtons() {
        let composer = MessageComposer(capabilities: ServerCapabilities(actions: false))
        #expect(composer.running(receiving(), endpointDirectory: nil).actions.isEmpty)
    }

    @Test func oneFileArrivedOffersOpenFolder() {
        var batch = ArrivalBatch(startedAt: .now)
        var view = receiving()
        view.state = .done
        view.bytesDone = 3 << 20
        view.filesDone = 1
        batch.add(view, at: .now)
        let content = plain.finished(batch, direction: .receive, endpointDirectory: "/home/ann/Downloads", destination: "")
        #expect(content.summary == "File received")
        #expect(content.body == "report.pdf (3 MiB) arrived in Downloads")
        #expect(content.actions == [.openFolder(directory: "/home/ann/Downloads", items: ["/home/ann/Downloads/report.pdf"])])
        #expect(content.actionStrings == ["default", "Open folder", "open-folder", "Open folder"])
        #expect(content.action(forKey: "default") == content.action(forKey: "open-folder"))
        #expect(content.category == "transfer.complete")
    }

    @Test func manyTransfersAreCountedTogether() {
        var batch = ArrivalBatch(startedAt: .now)
        for index in 0..<12 {
            let view = TransferSnapshot(
                path: ObjectPath("/org/s2s/Daemon1/transfer/1000_\(index + 1)") ?? "/", direction: .receive, state: .done,
                bytesDone: 300 * 1024, bytesTotal: 300 * 1024, filesDone: 1, filesTotal: 1, endpoint: Self.endpoint)
            batch.add(view, at: .now)
        }
        let content = plain.finished(batch, direction: .receive, endpointDirectory: "/home/ann/Downloads", destination: "")
        #expect(content.summary == "Files received")
        #expect(content.body == "12 files (3.5 MiB) arrived in Downloads")
    }

    @Test func sentFilesNameTheDestination() {
        var batch = ArrivalBatch(startedAt: .now)
        batch.add(
            TransferSnapshot(
                path: Self.path, direction: .send, state: .done, bytesDone: 2048, bytesTotal: 2048, filesDone: 40,
                filesTotal: 40, destination: "\(Self.id)@10.0.0.2", sources: ["/home/ann/photos"]), at: .now)
        let content = plain.finished(batch, direction: .send, endpointDirectory: nil, destination: "\(Self.id)@10.0.0.2")
        #expect(content.summary == "Folder sent")
        #expect(content.body == "Folder photos (40 files, 2 KiB) was delivered to s2s1s5s0…kala at 10.0.0.2")
        #expect(content.actions.isEmpty)
    }

    @Test func aFailureTellsTheReason() {
        var view = receiving()
        view.state = .failed
        view.error = "quota exceeded"
        let content = plain.ended(view, endpointDirectory: "/srv/in")
        #expect(content.summary == "Receiving report.pdf failed")
        #expect(content.body == "Quota exceeded\n50 MiB of 200 MiB moved\ninto in")
        #expect(content.urgency == .critical)
        #expect(content.actions.isEmpty)
        view.state = .cancelled
        view.error = nil
        let cancelled = plain.ended(view, endpointDirectory: "/srv/in")
        #expect(cancelled.summary == "Receiving report.pdf cancelled")
        #expect(cancelled.body.hasPrefix("No reason given\n"))
        #expect(cancelled.urgency == .normal)
    }

    @Test func markupIsEscapedInTheBodyOnlyForMarkupServers() {
        let view = receiving("a&b <draft>.txt")
        let escaped = markup.running(view, endpointDirectory: "/srv/R&D")
        #expect(escaped.summary == "Receiving a&b <draft>.txt")
        #expect(escaped.body.hasSuffix("into R&amp;D"))
        let raw = plain.running(view, endpointDirectory: "/srv/R&D")
        #expect(raw.body.hasSuffix("into R&D"))
    }

    @Test(arguments: [
        ("plain", "plain"), ("a&b", "a&amp;b"), ("<b>x</b>", "&lt;b&gt;x&lt;/b&gt;"), ("\"q\" 'a'", "&quot;q&quot; 'a'"),
        ("ünï ✓", "ünï ✓"),
    ])
    func markupEscapes(_ text: String, _ expected: String) {
        #expect(XMLText.escape(text) == expected)
    }

    @Test func capabilitiesAreRead() {
        let capabilities = ServerCapabilities(["body", "actions", "body-markup", "x-dunst-stack-tag"])
        #expect(capabilities == ServerCapabilities(actions: true, bodyMarkup: true, persistence: false))
    }
}
