import S2SNotifyCLI

/// `s2s-notify`: the command is in S2SNotifyCLI, shared with the package's multi-call binary.
@main
enum S2SNotifyEntry {
    static func main() async {
        await S2SNotifyMain.run()
    }
}
