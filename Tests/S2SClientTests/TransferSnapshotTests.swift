import Foundation
import S2SBus
import S2SCore
import Testing
@testable import S2SClient

/// Reading a transfer from the daemon's properties, what it is called, and its JSON.
struct TransferSnapshotTests {
    static let path: ObjectPath = "/org/s2s/Daemon1/transfer/1000_3"

    static func properties(direction: String = "receive", sources: [String] = [], currentFile: String = "") -> [String: DBusValue] {
        [
            "Direction": .string(direction), "State": .string("receiving"), "Route": .string("direct"), "Owner": .uint32(1000),
            "Endpoint": .objectPath(direction == "receive" ? "/org/s2s/Daemon1/endpoint/1000_2" : "/"),
            "Destination": .string(direction == "send" ? "s2s1x@h:1" : ""), "Sources": .strings(sources),
            "DigestAlgorithm": .string("xxh3-128"), "Digest": .string(""), "BytesDone": .uint64(1), "BytesTotal": .uint64(10),
            "BytesResumed": .uint64(0), "FilesDone": .uint64(0), "FilesTotal": .uint64(2), "Rate": .uint64(0),
            "CurrentFile": .string(currentFile), "Error": .string(""), "CreatedTimestamp": .uint64(1), "FinishedTimestamp": .uint64(0),
        ]
    }

    @Test func readsTheDaemonsProperties() throws {
        let view = try TransferSnapshot(path: Self.path, properties: Self.properties(currentFile: "docs/a.txt"))
        #expect(view.direction == .receive && view.owner == 1000 && view.endpoint == "/org/s2s/Daemon1/endpoint/1000_2")
        #expect(view.state == .receiving && view.number == 3 && view.destination == nil && view.error == nil)
        #expect(view.rateLimit == 0 && view.keptSources.isEmpty && view.nextAttempt == nil && view.finishedTimestamp == nil)
        #expect(view.subject == .folder("docs"))
        let sent = try TransferSnapshot(path: Self.path, properties: Self.properties(direction: "send", sources: ["/a/b.txt", "/a/c"]))
        #expect(sent.endpoint == nil && sent.subject == .items(2))
    }

    @Test func namesComeFromTheDaemonWhenItTellsThem() throws {
        var properties = Self.properties()
        properties["Names"] = .strings(["photos/"])
        properties["FilesTotal"] = .uint64(1)
        #expect(try TransferSnapshot(path: Self.path, properties: properties).subject == .folder("photos"))
        properties["Names"] = .strings(["a.txt", "b/"])
        #expect(try TransferSnapshot(path: Self.path, properties: properties).subject == .items(2))
        properties["Names"] = .strings(["report.pdf"])
        #expect(try TransferSnapshot(path: Self.path, properties: properties).subject == .file("report.pdf"))
    }

    @Test func aMissingPropertyIsAClearError() {
        var properties = Self.properties()
        properties["Owner"] = .string("root")
        #expect(throws: MalformedReply.self) { try TransferSnapshot(path: Self.path, properties: properties) }
    }

    @Test func namesSeenOnTheWayAreKept() throws {
        var view = try TransferSnapshot(path: Self.path, properties: Self.properties())
        #expect(view.subject == .unknown)
        view.apply(TransferProgress(state: .receiving, bytesDone: 5, bytesTotal: 10, filesDone: 0, filesTotal: 1, rate: 0, currentFile: "x.iso"))
        var final = try TransferSnapshot(path: Self.path, properties: Self.properties())
        final.state = .done
        final.filesTotal = 1
        view.update(from: final)
        #expect(view.state == .done && view.subject == .file("x.iso"))
    }

    @Test func anUnknownStateIsAClearError() {
        var properties = Self.properties()
        properties["State"] = .string("levitating")
        #expect(throws: MalformedReply.self) { try TransferSnapshot(path: Self.path, properties: properties) }
    }

    /// N is the caller's own transfer; UID:N and USER:N another user's; or the object path.
    @Test(arguments: [
        ("3", "/org/s2s/Daemon1/transfer/1000_3"), ("0:3", "/org/s2s/Daemon1/transfer/0_3"),
        ("1001:12", "/org/s2s/Daemon1/transfer/1001_12"), ("root:4", "/org/s2s/Daemon1/transfer/0_4"),
        ("/org/s2s/Daemon1/transfer/1001_12", "/org/s2s/Daemon1/transfer/1001_12"),
    ])
    func transfersAreNamedByNumberOwnerOrPath(_ text: String, _ path: String) {
        #expect(TransferSnapshot.path(from: text, caller: 1000)?.rawValue == path)
    }

    @Test(arguments: [
        "0", "-1", "x", "03", "+3", ":3", "1000:", "1000:0", "1:2:3", "no-such-user-s2s:3", "/org/s2s/Daemon1/endpoint/1000_3",
        "/org/s2s/Daemon1/transfer/3", "/org/s2s/Daemon1/transfer/1000_03", "/org/s2s/Daemon1/transfer/01000_3",
        "/org/s2s/Daemon1/transfer/1000_0", "/org/s2s/Daemon1/transfer/_3", "/org/s2s/Daemon1/transfer/1000_3_1",
        "/org/s2s/Daemon1/transfer/4294967296_3",
    ])
    func otherTextNamesNoTransfer(_ text: String) {
        #expect(TransferSnapshot.path(from: text, caller: 1000) == nil)
    }

    @Test func theOwnerAndNumberOfAPath() {
        #expect(TransferSnapshot.objectNumber(of: Self.path) == ObjectNumber(owner: 1000, number: 3))
        #expect(TransferSnapshot.path(of: ObjectNumber(owner: 0, number: 1))?.rawValue == "/org/s2s/Daemon1/transfer/0_1")
    }

    /// The keys of `s2sctl --json`, which scripts rely on: all of them, `null` for none.
    @Test func jsonHasEveryKey() throws {
        var properties = Self.properties(direction: "send", sources: ["/a/b.txt"])
        properties["NextAttempt"] = .uint64(1_700_000_000_000_000)
        properties["LastError"] = .string("connection refused")
        let data = try JSONEncoder().encode(try TransferSnapshot(path: Self.path, properties: properties))
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(
            Set(object.keys) == [
                "number", "object", "direction", "state", "route", "owner", "endpoint", "destination", "sources", "sourceCount",
                "digestAlgorithm", "digest", "bytesDone", "bytesTotal", "bytesResumed", "filesDone", "filesTotal", "rate",
                "currentFile", "error", "created", "finished", "priority", "attempts", "nextAttempt", "lastError",
                "rateLimit", "removeSource", "keptSources",
            ])
        #expect(object["number"] as? Int == 3 && object["object"] as? String == Self.path.rawValue)
        #expect(object["state"] as? String == "receiving" && object["direction"] as? String == "send")
        #expect(object["destination"] as? String == "s2s1x@h:1" && object["endpoint"] is NSNull && object["digest"] is NSNull)
        #expect(object["finished"] is NSNull && object["created"] as? String == "1970-01-01T00:00:00Z")
        #expect(object["nextAttempt"] as? String == "2023-11-14T22:13:20Z" && object["lastError"] as? String == "connection refused")
    }
}
