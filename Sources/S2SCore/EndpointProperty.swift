/// The properties of `org.s2s.Daemon1.Endpoint`, in the order of the interface's XML: one list
/// for the daemon that publishes them and the clients that read them.
public enum EndpointProperty: String, Sendable, CaseIterable {
    case id = "Id"
    case directory = "Directory"
    case owner = "Owner"
    case createdTimestamp = "CreatedTimestamp"
    case quota = "Quota"
    case expiresTimestamp = "ExpiresTimestamp"
    case remainingUses = "RemainingUses"
    case bytesReceived = "BytesReceived"
    case filesReceived = "FilesReceived"
    case relay = "Relay"
    case relayConnected = "RelayConnected"
    case allowDirect = "AllowDirect"
}
