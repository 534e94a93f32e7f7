import S2SDaemonCLI

/// `s2sd`: the command is in S2SDaemonCLI, shared with the package's multi-call binary.
@main
enum S2SDaemonEntry {
    static func main() async {
        await S2SDaemonMain.run()
    }
}
