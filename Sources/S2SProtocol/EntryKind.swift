/// What an offered entry is, as the u8 of ENTRY. Symlinks, devices, FIFOs and sockets are never
/// offered: the wire format cannot name them.
public enum EntryKind: UInt8, Sendable, Hashable, CaseIterable {
    case file = 1
    case directory = 2
}
