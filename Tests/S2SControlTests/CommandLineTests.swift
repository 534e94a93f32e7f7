import ArgumentParser
import S2SBus
import S2SClient
import S2SCore
import Testing
@testable import S2SControl

/// The command line: what parses, what is a usage error (EX_USAGE, 64), and the JSON shape.
struct CommandLineTests {
    static let id = "s2s1s5s0qzvfxzn4gayt0hwtg0hhtgxm7wsdycup4a8t5j5ca25mfe4qd9kala"

    @Test(arguments: [
        ["endpoint", "new", "/tmp/in"],
        ["--user", "endpoint", "new", "in", "--quota", "1.5G", "--expires", "2h", "--once", "--json"],
        ["endpoint", "list", "--json"],
        ["--system", "endpoint", "show", id.uppercased()],
        ["endpoint", "rm", id, id],
        ["status", "--user"],
    ])
    func validCommandLinesParse(_ arguments: [String]) throws {
        _ = try S2SCtl.parseAsRoot(arguments)
    }

    @Test(arguments: [
        [], ["bogus"], ["endpoint"], ["endpoint", "new"], ["endpoint", "new", "/x", "--quota", "12Q"],
        ["endpoint", "new", "/x", "--expires", "soon"], ["endpoint", "new", "/x", "--expires", "0"],
        ["endpoint", "show"], ["endpoint", "rm"], ["--user", "--system", "status"], ["status", "--frobnicate"],
    ])
    func badCommandLinesAreUsageErrors(_ arguments: [String]) {
        do {
            var command = try S2SCtl.parseAsRoot(arguments)
            // Subcommand groups without a subcommand fail when run, before touching the bus.
            if arguments.count <= 1 || arguments == ["endpoint"] {
                #expect(throws: (any Error).self) { try command.run() }
            } else {
                Issue.record("\(arguments) parsed")
            }
        } catch {
            #expect(S2SCtl.report(error).status == S2SControl.ExitStatus.usage.rawValue, "\(arguments): \(S2SCtl.report(error))")
            #expect(!S2SCtl.fullMessage(for: error).isEmpty)
        }
    }

    /// A malformed or mistyped ID is EX_DATAERR (65), with the parser's words, before the bus.
    @Test(arguments: ["s2s1qqq", String(id.dropLast()) + "b", ""])
    func malformedIDsAreDataErrors(_ text: String) {
        #expect {
            try parsedID(text)
        } throws: { error in
            guard let failure = error as? CommandFailure else { return false }
            return failure.status == .dataError && !failure.message.isEmpty
                && S2SCtl.report(failure) == ("s2sctl: " + failure.message, 65)
        }
    }

    @Test func daemonErrorsMapToTheSameStatusEverywhere() {
        func status(_ name: String?, bus: BusAddress = .system) -> S2SControl.ExitStatus {
            let busError: BusError = name.map { .remote(name: $0, message: "m") } ?? .disconnected("gone")
            return DaemonCallError(busError: busError, bus: bus).exitStatus
        }
        #expect(status(StandardErrorName.serviceUnknown) == .unavailable)
        #expect(status(StandardErrorName.nameHasNoOwner, bus: .session) == .unavailable)
        #expect(status(nil) == .unavailable)
        #expect(status(StandardErrorName.accessDenied) == .noPermission)
        #expect(status(DaemonErrorName.accessDenied.rawValue) == .noPermission)
        #expect(status(DaemonErrorName.invalidPath.rawValue) == .noInput)
        #expect(status(DaemonErrorName.notFound.rawValue) == .failure)
        #expect(status(DaemonErrorName.limitExceeded.rawValue) == .failure)
    }

    @Test func theRootHelpListsEveryExitStatus() {
        let help = S2SCtl.helpMessage(columns: 1000)
        for status in [0, 1, 64, 65, 66, 69, 75, 77, 130] {
            #expect(help.contains(" \(status) "), "\(status) missing from the help")
        }
    }

    @Test func endpointNewAdvice() {
        let withExternal = EndpointNew.advice(id: Self.id, external: "files.example.org:7730", listeners: [], relay: "")
        #expect(withExternal == [
            "Senders on the direct route: s2sctl send FILE \(Self.id)@files.example.org:7730",
            "The ID alone works only through a relay, and s2sd has none (Relay= in s2sd.conf).",
        ])
        let listening = EndpointNew.advice(id: Self.id, external: nil, listeners: ["0.0.0.0:7731"], relay: "relay.example:7000")
        #expect(listening[0].hasPrefix("Senders on the direct route: s2sctl send FILE \(Self.id)@HOST:7731, with HOST"))
        #expect(listening[1] == "The ID alone works through the relay relay.example:7000: s2sctl send FILE \(Self.id)")
        #expect(EndpointNew.advice(id: Self.id, external: nil, listeners: [], relay: "")[0].hasPrefix("No direct route"))
    }

    @Test func relativeDirectoriesBecomeAbsolute() {
        #expect(absolutePath("/already").hasPrefix("/already"))
        #expect(absolutePath("in").hasPrefix("/"))
        #expect(absolutePath("in").hasSuffix("/in"))
    }

    @Test func endpointJSONAlwaysHasEveryKey() throws {
        let properties: [String: DBusValue] = [
            "Id": .string(Self.id), "Directory": .string("/srv/in"), "Owner": .uint32(1000),
            "CreatedTimestamp": .uint64(1_700_000_000_000_000), "Quota": .uint64(.max), "ExpiresTimestamp": .uint64(.max),
            "RemainingUses": .uint64(1), "BytesReceived": .uint64(0), "FilesReceived": .uint64(0),
        ]
        let info = try EndpointInfo(object: "/org/s2s/Daemon1/endpoint/1000_3", properties: properties)
        #expect(info.quota == nil)
        #expect(info.expires == nil)
        #expect(info.remainingUses == 1)
        #expect(info.created == "2023-11-14T22:13:20Z")
        let json = String(decoding: try JSONEncoderForTests.encode(info), as: UTF8.self)
        #expect(json.contains("\"quota\":null"))
        #expect(json.contains("\"number\":3"))
        #expect(json.contains("\"expires\":null"))
        var missing = properties
        missing["Id"] = nil
        #expect(throws: (any Error).self) { try EndpointInfo(object: "/x", properties: missing) }
    }
}

import Foundation

enum JSONEncoderForTests {
    static func encode<T: Encodable>(_ value: T) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(value)
    }
}

/// Completions come from the parser itself, so they cannot drift from the commands.
struct CompletionTests {
    @Test(arguments: [CompletionShell.bash, .zsh, .fish])
    func completionScriptsNameEveryCommand(_ shell: CompletionShell) {
        let script = S2SCtl.completionScript(for: shell)
        for word in ["endpoint", "status", "new", "list", "show", "rm", "--quota", "--expires", "--json", "--user"] {
            // fish names options without their dashes.
            let expected = shell == .fish && word.hasPrefix("--") ? "'\(word.dropFirst(2))" : word
            #expect(script.contains(expected), "\(shell) completion lacks \(word)")
        }
    }
}
