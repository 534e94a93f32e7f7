import S2SControl

@main
enum S2SCtlMain {
    static func main() async {
        await S2SCtl.runAsMain()
    }
}
