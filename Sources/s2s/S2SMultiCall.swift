import S2SControl
import S2SDaemonCLI
import S2SNotifyCLI
#if canImport(Glibc)
import Glibc
#endif

/// The Debian package's one binary (/usr/lib/s2s/s2s): s2sd, s2sctl and s2s-notify in one
/// executable with one copy of the Swift runtime, run as whichever of them it is called by
/// (/usr/bin/s2sd, /usr/bin/s2sctl and /usr/bin/s2s-notify are symbolic links to it). A
/// development build makes the three programs separately as well (Package.swift).
@main
enum S2SMultiCall {
    static let programs = ["s2sd", "s2sctl", "s2s-notify"]

    static func main() async {
        let invokedAs = CommandLine.arguments.first ?? ""
        let name = invokedAs.split(separator: "/").last.map(String.init) ?? invokedAs
        switch name {
        case "s2sd": await S2SDaemonMain.run()
        case "s2sctl": await S2SCtl.runAsMain()
        case "s2s-notify": await S2SNotifyMain.run()
        default:
            let message = "\(name): run this program as one of \(programs.joined(separator: ", ")) "
                + "(a symbolic link by that name to it, as the package installs in /usr/bin)\n"
            _ = message.withCString { write(2, $0, strlen($0)) }
            exit(64)  // EX_USAGE
        }
    }
}
