import S2SBus
import S2SCore
import S2SEngine

/// The engine's errors reach bus callers as the daemon's named errors (`org.s2s.Error.*`).
extension EngineError: DBusErrorConvertible {
    public var dbusErrorName: String {
        let name: DaemonErrorName =
            switch kind {
            case .accessDenied: .accessDenied
            case .notFound: .notFound
            case .invalidPath: .invalidPath
            case .invalidArgument: .invalidArgument
            case .limitExceeded: .limitExceeded
            case .failed: .failed
            }
        return name.rawValue
    }

    public var dbusErrorMessage: String { message }
}
