import S2SBus
import S2SCore
import S2SEngine

extension EndpointOptions {
    /// The options dictionary of `CreateEndpoint`: every key known, every value a count in range.
    init(parsing options: [String: DBusValue]) throws(EngineError) {
        self.init()
        for (key, value) in options {
            switch key {
            case DaemonAPI.EndpointOption.quota:
                quota = try Self.count(key, value)
            case DaemonAPI.EndpointOption.lifetime:
                lifetime = try Self.count(key, value)
                if let lifetime, lifetime > Self.longestLifetime {
                    throw .invalidArgument("Lifetime is longer than 100 years; omit it for an endpoint that never expires")
                }
            case DaemonAPI.EndpointOption.maxUses:
                maxUses = try Self.count(key, value)
            case DaemonAPI.EndpointOption.allowDirect:
                guard let allow = value.unwrappingVariant.boolValue else { throw .invalidArgument("option AllowDirect must be a boolean") }
                allowDirect = allow
            default:
                throw .invalidArgument("unknown option \"\(key)\"; known options are Quota, Lifetime, MaxUses and AllowDirect")
            }
        }
    }

    /// A positive count; UINT64_MAX means unlimited (nil). Any unsigned or non-negative integer type
    /// is accepted, since clients differ in which they find natural.
    private static func count(_ key: String, _ value: DBusValue) throws(EngineError) -> UInt64? {
        let number: UInt64?
        switch value.unwrappingVariant {
        case .uint64(let v): number = v
        case .uint32(let v): number = UInt64(v)
        case .uint16(let v): number = UInt64(v)
        case .byte(let v): number = UInt64(v)
        case .int64(let v): number = v >= 0 ? UInt64(v) : nil
        case .int32(let v): number = v >= 0 ? UInt64(v) : nil
        case .int16(let v): number = v >= 0 ? UInt64(v) : nil
        default:
            throw .invalidArgument("option \(key) must be an unsigned integer (t), not \(value.unwrappingVariant.type)")
        }
        guard let number else { throw .invalidArgument("option \(key) must not be negative") }
        if number == DaemonAPI.unlimited { return nil }
        guard number > 0 else { throw .invalidArgument("option \(key) must be positive; omit it for no limit") }
        guard number <= largestFinite else { throw .invalidArgument("option \(key) is too large") }
        return number
    }
}
