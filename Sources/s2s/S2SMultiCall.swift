import ArgumentParser
import S2SControl
import S2SDaemonCLI
import S2SNotifyCLI

/// The Debian package's one binary (/usr/lib/s2s/s2s): s2sd, s2sctl and s2s-notify in one
/// executable with one copy of the Swift runtime, run as whichever of them it is called by
/// (/usr/bin/s2sd, /usr/bin/s2sctl and /usr/bin/s2s-notify are symbolic links to it). Called by
/// another name, the program comes first: `s2s s2sctl status`. A development build makes the
/// three programs separately as well (Package.swift).
@main
enum S2SMultiCall {
    static func main() async {
        let invokedAs = CommandLine.arguments.first ?? ""
        let name = invokedAs.split(separator: "/").last.map(String.init) ?? invokedAs
        if S2SMultiCallCommand.Program(rawValue: name) != nil {
            await S2SMultiCallCommand.run(name, arguments: nil)
        } else {
            await S2SMultiCallCommand.main()
        }
    }
}

/// `s2s PROGRAM [ARGUMENT...]`, for when the binary is not called by a program's name.
struct S2SMultiCallCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "s2s",
        abstract: "s2sd, s2sctl and s2s-notify in one binary.",
        discussion: """
            The s2s package installs its programs as one binary, /usr/lib/s2s/s2s, which runs as \
            the program whose name it is called by: /usr/bin/s2sd, /usr/bin/s2sctl and \
            /usr/bin/s2s-notify are symbolic links to it. Called by another name, it runs the \
            program named by its first argument.
            """)

    enum Program: String, ExpressibleByArgument, CaseIterable {
        case s2sd, s2sctl
        case s2sNotify = "s2s-notify"
    }

    @Argument(help: "s2sd, s2sctl or s2s-notify.")
    var program: Program

    @Argument(parsing: .captureForPassthrough, help: "The program's arguments.")
    var arguments: [String] = []

    func run() async throws {
        await Self.run(program.rawValue, arguments: arguments)
    }

    /// Runs `program` with `arguments` (nil: the process's own command line).
    static func run(_ program: String, arguments: [String]?) async {
        switch Program(rawValue: program) {
        case .s2sd: await S2SDaemonMain.run(arguments: arguments)
        case .s2sctl: await S2SCtl.runAsMain(arguments: arguments)
        case .s2sNotify: await S2SNotifyMain.run(arguments: arguments)
        case nil: break
        }
    }
}
