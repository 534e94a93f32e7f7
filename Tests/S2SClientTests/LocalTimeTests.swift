import Foundation
import S2SClient
import Testing

/// Timestamps as text without Foundation's formatters (no ICU in the package).
struct LocalTimeTests {
    @Test func rfc3339RoundTripsWholeSeconds() {
        let date = Date(timeIntervalSince1970: 1_796_371_242)
        #expect(LocalTime.rfc3339(date) == "2026-12-04T08:00:42Z")
        #expect(LocalTime.date(rfc3339: "2026-12-04T08:00:42Z") == date)
    }

    @Test func anythingElseIsNotADate() {
        for text in ["", "2026-12-04 08:00:42Z", "2026-12-04T08:00:42", "2026-12-04T08:00:42+01:00", "yyyy-mm-ddThh:mm:ssZ"] {
            #expect(LocalTime.date(rfc3339: text) == nil, "\(text)")
        }
    }

    @Test func formatsAtAnOffsetAndComparesDays() {
        let date = Date(timeIntervalSince1970: 1_796_371_242)
        #expect(LocalTime.format(date, "%H:%M:%S", utcOffset: 0) == "08:00:42")
        #expect(LocalTime.format(date, "%H:%M", utcOffset: 3600) == "09:00")
        #expect(LocalTime.sameDay(date, date.addingTimeInterval(3600), utcOffset: 0))
        #expect(!LocalTime.sameDay(date, date.addingTimeInterval(86_400), utcOffset: 0))
    }
}
