import S2SBus
import S2SClient
import Testing
@testable import S2SNotify

/// Reading a transfer from the daemon's properties, and what it is called.
struct TransferViewTests {
    static let path: ObjectPath = "/org/s2s/Daemon1/transfer/3"

    static func properties(direction: String = "receive", sources: [String] = [], currentFile: String = "") -> [String: DBusValue] {
        [
            "Direction": .string(direction), "State": .string("receiving"), "Route": .string("direct"), "Owner": .uint32(1000),
            "Endpoint": .objectPath(direction == "receive" ? "/org/s2s/Daemon1/endpoint/2" : "/"),
            "Destination": .string(direction == "send" ? "s2s1x@h:1" : ""), "Sources": .strings(sources),
            "DigestAlgorithm": .string("xxh3-128"), "Digest": .string(""), "BytesDone": .uint64(1), "BytesTotal": .uint64(10),
            "BytesResumed": .uint64(0), "FilesDone": .uint64(0), "FilesTotal": .uint64(2), "Rate": .uint64(0),
            "CurrentFile": .string(currentFile), "Error": .string(""), "CreatedTimestamp": .uint64(1), "FinishedTimestamp": .uint64(0),
        ]
    }

    @Test func readsTheDaemonsProperties() throws {
        let view = try TransferView(path: Self.path, properties: Self.properties(currentFile: "docs/a.txt"))
        #expect(view.direction == .receive && view.owner == 1000 && view.endpoint == "/org/s2s/Daemon1/endpoint/2")
        #expect(view.subject == .folder("docs"))
        let sent = try TransferView(path: Self.path, properties: Self.properties(direction: "send", sources: ["/a/b.txt", "/a/c"]))
        #expect(sent.endpoint == nil && sent.subject == .items(2))
    }

    @Test func namesComeFromTheDaemonWhenItTellsThem() throws {
        var properties = Self.properties()
        properties["Names"] = .strings(["photos/"])
        properties["FilesTotal"] = .uint64(1)
        #expect(try TransferView(path: Self.path, properties: properties).subject == .folder("photos"))
        properties["Names"] = .strings(["a.txt", "b/"])
        #expect(try TransferView(path: Self.path, properties: properties).subject == .items(2))
        properties["Names"] = .strings(["report.pdf"])
        #expect(try TransferView(path: Self.path, properties: properties).subject == .file("report.pdf"))
    }

    @Test func aMissingPropertyIsAClearError() {
        var properties = Self.properties()
        properties["Owner"] = .string("root")
        #expect(throws: MalformedReply.self) { try TransferView(path: Self.path, properties: properties) }
    }

    @Test func namesSeenOnTheWayAreKept() throws {
        var view = try TransferView(path: Self.path, properties: Self.properties())
        #expect(view.subject == .unknown)
        view.apply(TransferProgress(state: "receiving", bytesDone: 5, bytesTotal: 10, filesDone: 0, filesTotal: 1, rate: 0, currentFile: "x.iso"))
        var final = try TransferView(path: Self.path, properties: Self.properties())
        final.state = "done"
        final.filesTotal = 1
        view.update(from: final)
        #expect(view.state == "done" && view.subject == .file("x.iso"))
    }
}
