import Testing
@testable import S2SEngine

/// The queue's settings (docs/queue.md, docs/configuration.md) and their place among the limits
/// `SetLimits` changes.
struct QueueConfigurationTests {
    func configuration(_ text: String) throws -> Configuration {
        var configuration = Configuration(bus: .system, environment: [:])
        try configuration.apply(fileContents: text, file: "test.conf")
        return configuration
    }

    @Test func defaults() {
        let defaults = Configuration(bus: .system, environment: [:])
        #expect(defaults.maxActiveSends == 4 && defaults.maxActiveSendsPerDestination == 2)
        #expect(defaults.retryFor == .seconds(86_400) && defaults.historyRetention == .seconds(7 * 86_400))
    }

    @Test func theFileSetsThem() throws {
        let parsed = try configuration("""
            [Daemon]
            MaxActiveSends=3
            MaxActiveSendsPerDestination=1
            RetryFor=2h
            HistoryRetention=1d
            ResumeRetention=30s
            """)
        #expect(parsed.maxActiveSends == 3 && parsed.maxActiveSendsPerDestination == 1)
        #expect(parsed.retryFor == .seconds(7200) && parsed.historyRetention == .seconds(86_400))
        #expect(parsed.resumeRetention == .seconds(30))
        #expect(try configuration("[Daemon]\nRetryFor=0").retryFor == .zero)
    }

    @Test(arguments: [
        ("[Daemon]\nMaxActiveSends=0", "MaxActiveSends"),
        ("[Daemon]\nMaxActiveSends=-1", "MaxActiveSends"),
        ("[Daemon]\nMaxActiveSendsPerDestination=70000", "MaxActiveSendsPerDestination"),
        ("[Daemon]\nRetryFor=400d", "366 days"),
        ("[Daemon]\nRetryFor=soon", "RetryFor"),
        ("[Daemon]\nHistoryRetention=-5s", "HistoryRetention"),
    ])
    func badValuesAreClearErrors(_ text: String, _ reason: String) {
        let error = #expect(throws: Configuration.FileError.self) { try configuration(text) }
        #expect(error?.reason.contains(reason) == true)
    }

    @Test func setLimitsChangesTheQueueLimits() throws {
        let limits = Limits(Configuration(bus: .system, environment: [:]))
        let changed = try limits.applying(["MaxActiveSends": 3, "MaxActiveSendsPerDestination": 1])
        #expect(changed.maxActiveSends == 3 && changed.maxActiveSendsPerDestination == 1)
        #expect(changed.values["MaxActiveSends"] == 3)
        #expect(changed.fileContents.contains("MaxActiveSendsPerDestination=1\n"))
        #expect(throws: EngineError.self) { try limits.applying(["MaxActiveSends": 0]) }
    }
}
