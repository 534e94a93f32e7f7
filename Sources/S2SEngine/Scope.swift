/// Whose objects a request sees and acts on. The front-end decides a caller's scope (the bus
/// adapter from its authorization table); the engine only filters by it.
package enum Scope: Sendable, Equatable {
    /// Everyone's: root, or an administrator.
    case everyone
    /// Only the objects of this UID.
    case owner(UInt32)

    package func includes(owner: UInt32) -> Bool {
        switch self {
        case .everyone: true
        case .owner(let uid): uid == owner
        }
    }

    /// The one owner this scope is limited to; nil for everyone.
    package var owner: UInt32? {
        if case .owner(let uid) = self { uid } else { nil }
    }
}
