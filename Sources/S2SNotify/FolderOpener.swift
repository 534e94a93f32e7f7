import Foundation
public import Logging
public import S2SBus

/// "Open folder": asks the desktop's file manager (`org.freedesktop.FileManager1` on the session
/// bus) to show what arrived, and falls back to `xdg-open DIRECTORY` where there is none.
public struct FolderOpener: Sendable {
    static let busName = "org.freedesktop.FileManager1"
    static let path: ObjectPath = "/org/freedesktop/FileManager1"

    let session: BusConnection
    let logger: Logger

    public init(session: BusConnection, logger: Logger) {
        self.session = session
        self.logger = logger
    }

    /// Shows `directory`, with `items` (paths inside it) selected when there are any.
    public func open(_ directory: String, selecting items: [String]) async {
        let existing = items.filter { FileManager.default.fileExists(atPath: $0) }
        let (member, uris) = existing.isEmpty
            ? ("ShowFolders", [Self.uri(directory)])
            : ("ShowItems", existing.map(Self.uri))
        do {
            _ = try await session.call(
                destination: Self.busName, path: Self.path, interface: Self.busName, member: member,
                [.strings(uris), .string("")], timeoutMilliseconds: 10_000)
            logger.info("asked the file manager to show \(directory)")
        } catch {
            logger.info("no file manager on the session bus (\(error)); running xdg-open \(directory)")
            runXDGOpen(directory)
        }
    }

    static func uri(_ path: String) -> String {
        URL(fileURLWithPath: path).absoluteString
    }

    private func runXDGOpen(_ directory: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["xdg-open", directory]
        process.standardInput = FileHandle.nullDevice
        let logger = self.logger
        process.terminationHandler = { finished in
            if finished.terminationStatus != 0 {
                logger.warning("xdg-open \(directory) exited with status \(finished.terminationStatus)")
            }
        }
        do {
            try process.run()
        } catch {
            logger.error("cannot run xdg-open \(directory): \(error)")
        }
    }
}
