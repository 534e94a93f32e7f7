import Foundation
import Testing
@testable import S2SCore

/// The shared names against the contract, `Packaging/dbus/org.s2s.Daemon1.xml`: every property
/// of the Transfer and Endpoint interfaces, in order.
struct DaemonAPINamesTests {
    static func properties(of interface: String) throws -> [String] {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Packaging/dbus/org.s2s.Daemon1.xml")
        let xml = try String(contentsOf: url, encoding: .utf8)
        let start = try #require(xml.range(of: "<interface name=\"\(interface)\">"))
        let end = try #require(xml.range(of: "</interface>", range: start.upperBound..<xml.endIndex))
        return xml[start.upperBound..<end.lowerBound].split(separator: "<property name=\"").dropFirst().compactMap {
            $0.split(separator: "\"").first.map(String.init)
        }
    }

    @Test func transferPropertiesMatchTheContract() throws {
        #expect(TransferProperty.allCases.map(\.rawValue) == (try Self.properties(of: DaemonAPI.transferInterface)))
    }

    @Test func endpointPropertiesMatchTheContract() throws {
        #expect(EndpointProperty.allCases.map(\.rawValue) == (try Self.properties(of: DaemonAPI.endpointInterface)))
    }

    @Test func finishedStates() {
        #expect(TransferState.allCases.filter(\.isFinished) == [.done, .failed, .cancelled])
        #expect(TransferState.allCases.filter(\.isWaiting) == [.queued, .paused])
    }
}
