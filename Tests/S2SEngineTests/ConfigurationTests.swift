import Logging
import Testing
@testable import S2SEngine
import S2SNat

struct ConfigurationTests {
    func configuration(_ text: String) throws -> Configuration {
        var configuration = Configuration(bus: .system, environment: [:])
        try configuration.apply(fileContents: text, file: "test.conf")
        return configuration
    }

    @Test func defaultsFollowTheBus() {
        let system = Configuration(bus: .system, environment: [:])
        #expect(system.stateDirectory == "/var/lib/s2s")
        #expect(system.idleTimeout == .seconds(300))
        #expect(system.maxEndpointsPerUser == 1024)
        let user = Configuration(bus: .user, environment: ["HOME": "/home/ann"])
        #expect(user.stateDirectory == "/home/ann/.local/state/s2s")
        #expect(Configuration(bus: .user, environment: ["XDG_STATE_HOME": "/xdg"]).stateDirectory == "/xdg/s2s")
        #expect(Configuration.defaultConfigFile(bus: .system, environment: [:]) == "/etc/s2s/s2sd.conf")
        #expect(Configuration.defaultConfigFile(bus: .user, environment: ["XDG_CONFIG_HOME": "/c"]) == "/c/s2s/s2sd.conf")
    }

    @Test func aFileSetsEveryKey() throws {
        let parsed = try configuration("""
            # comment
            ; another
            [Daemon]
            StateDirectory = /srv/s2s
            IdleTimeout=1h 30min
            MaxEndpointsPerUser=7
            LogLevel=DEBUG

            """)
        #expect(parsed.stateDirectory == "/srv/s2s")
        #expect(parsed.idleTimeout == .seconds(5400))
        #expect(parsed.maxEndpointsPerUser == 7)
        #expect(parsed.logLevel == .debug)
        #expect(try configuration("[Daemon]\nIdleTimeout=0").idleTimeout == nil)
    }

    @Test(arguments: [
        ("[Daemon]\nColour=blue", 2, "unknown setting"),
        ("IdleTimeout=5s", 1, "outside"),
        ("[Other]\n", 1, "unknown section"),
        ("[Daemon\n", 1, "unterminated"),
        ("[Daemon]\nIdleTimeout=soon", 2, "duration"),
        ("[Daemon]\nMaxEndpointsPerUser=0", 2, "positive"),
        ("[Daemon]\nMaxEndpointsPerUser=-3", 2, "positive"),
        ("[Daemon]\nStateDirectory=relative", 2, "absolute"),
        ("[Daemon]\nLogLevel=loud", 2, "LogLevel"),
        ("[Daemon]\n\njust words", 3, "Key=Value"),
    ])
    func badFilesSayWhereAndWhy(_ text: String, _ line: Int, _ reason: String) {
        let error = #expect(throws: Configuration.FileError.self) { try configuration(text) }
        #expect(error?.line == line)
        #expect(error?.description.hasPrefix("test.conf:\(line): ") == true)
        #expect(error?.reason.contains(reason) == true)
    }

    @Test func stunServersReplaceTheDefaultsAndAnEmptyLineClearsThem() throws {
        #expect(Configuration(bus: .system, environment: [:]).stunServers == StunServer.defaults)
        let two = try configuration("[Daemon]\nStunServer=198.19.0.3\nStunServer=stun.example.net:19302\nStunServer=198.19.0.3:3478")
        #expect(two.stunServers.map(\.description) == ["198.19.0.3:3478", "stun.example.net:19302"])
        #expect(try configuration("[Daemon]\nStunServer=").stunServers.isEmpty)
        #expect(try configuration("[Daemon]\nStunServer=a.example\nStunServer=\nStunServer=b.example").stunServers.map(\.host) == ["b.example"])
        let many = (1...Configuration.maxStunServers + 1).map { "StunServer=s\($0).example\n" }.joined()
        let error = #expect(throws: Configuration.FileError.self) { try configuration("[Daemon]\n" + many) }
        #expect(error?.reason.contains("at most 8") == true)
        #expect(throws: Configuration.FileError.self) { try configuration("[Daemon]\nStunServer=2001:db8::1") }
    }

    @Test func allowDirectIsOffUnlessSaid() throws {
        #expect(Configuration(bus: .system, environment: [:]).allowDirect == false)
        #expect(try configuration("[Daemon]\nAllowDirect=yes").allowDirect)
        #expect(try configuration("[Daemon]\nAllowDirect=yes\nAllowDirect=off").allowDirect == false)
        let error = #expect(throws: Configuration.FileError.self) { try configuration("[Daemon]\nAllowDirect=maybe") }
        #expect(error?.reason.contains("yes or no") == true)
    }

    @Test func aMissingFileIsAnErrorOnlyWhenAskedFor() throws {
        var configuration = Configuration(bus: .system, environment: [:])
        try configuration.load(file: "/nonexistent/s2sd.conf", required: false)
        #expect(throws: Configuration.FileError.self) { try configuration.load(file: "/nonexistent/s2sd.conf", required: true) }
    }
}
