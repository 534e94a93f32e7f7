#if canImport(Glibc)
import Glibc
#endif

/// The permission bits a received entry gets from the mode its offer carries.
///
/// docs/protocol.md (ENTRY): the receiver applies at most the offered bits, may clear more, and
/// always keeps the owner's read and write bits (and search on directories). s2s applies the
/// offered bits masked with 0o755: never setuid, setgid or sticky (the wire cannot carry them,
/// and they are masked again here), and never writable by group or others, whatever the sender
/// says, so a sender cannot make files in someone's home directory writable by other local users.
/// The endpoint's owner can widen the bits afterwards.
enum ReceiveMode {
    /// The bits a sender may grant at most.
    static let allowed: mode_t = 0o755

    /// A regular file: offered & 0o755, plus owner read and write.
    static func file(offered: UInt16) -> mode_t {
        mode_t(offered) & allowed | 0o600
    }

    /// A directory: offered & 0o755, plus owner read, write and search.
    static func directory(offered: UInt16) -> mode_t {
        mode_t(offered) & allowed | 0o700
    }
}
