import ArgumentParser
import S2SBus
import S2SCore
import Testing
@testable import S2SControl

/// The command line: what parses, what is a usage error (exit status 2), and the JSON shape.
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
        ["endpoint", "show"], ["endpoint", "show", "s2s1qqq"], ["endpoint", "show", String(id.dropLast()) + "b"],
        ["endpoint", "rm"], ["--user", "--system", "status"], ["status", "--frobnicate"],
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
            let code = S2SCtl.exitCode(for: error)
            #expect(code != .success && code != .failure, "\(arguments): \(code)")
            #expect(!S2SCtl.fullMessage(for: error).isEmpty)
        }
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
        let info = try EndpointInfo(object: "/org/s2s/Daemon1/endpoint/3", properties: properties)
        #expect(info.quota == nil)
        #expect(info.expires == nil)
        #expect(info.remainingUses == 1)
        #expect(info.created == "2023-11-14T22:13:20Z")
        let json = String(decoding: try JSONEncoderForTests.encode(info), as: UTF8.self)
        #expect(json.contains("\"quota\":null"))
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
