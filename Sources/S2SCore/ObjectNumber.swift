/// What names an endpoint or a transfer on the bus: its owner's UID and its number among that
/// owner's endpoints, or transfers. Each user's numbers start at 1 and never repeat, so no number
/// says anything about other users (docs/security.md, "Object paths carry no IDs").
///
/// The one grammar of these names, for the daemon and every client:
///
/// - in an object path, one element `UID_N` below the kind's prefix:
///   `/org/s2s/Daemon1/transfer/1000_3` (``path(below:)``, ``init(path:below:)``);
/// - for people (the journal, `s2sctl`), `UID:N`: `1000:3` (``description``); `s2sctl` also takes
///   `USER:N` and, for the caller's own objects, `N` (``init(parsing:caller:userID:)``).
///
/// Both numbers are canonical decimal: no sign, no leading zero, N at least 1. Anything else
/// names no object.
public struct ObjectNumber: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The UID of the user the object belongs to.
    public let owner: UInt32
    /// The object's number among its owner's objects of its kind, from 1.
    public let number: Int64

    public init(owner: UInt32, number: Int64) {
        self.owner = owner
        self.number = number
    }

    /// `UID:N`, as the journal and `s2sctl` write it.
    public var description: String { "\(owner):\(number)" }

    /// `UID_N`: the last element of the object's path.
    public var pathElement: String { "\(owner)_\(number)" }

    /// The object's path below `prefix` (`DaemonAPI.endpointPathPrefix`, `.transferPathPrefix`).
    public func path(below prefix: String) -> String {
        prefix + "/" + pathElement
    }

    /// Reads a path element `UID_N`; nil for anything else.
    public init?(pathElement element: Substring) {
        let parts = element.split(separator: "_", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 2, let owner = Self.canonical(parts[0], as: UInt32.self),
            let number = Self.canonical(parts[1], as: Int64.self), number > 0
        else { return nil }
        self.init(owner: owner, number: number)
    }

    /// Reads `prefix/UID_N`; nil for any other path.
    public init?(path: String, below prefix: String) {
        guard path.hasPrefix(prefix + "/") else { return nil }
        self.init(pathElement: path.dropFirst(prefix.count + 1))
    }

    /// Reads an object as people give it: `N` (the caller's own), `UID:N` or `USER:N`. `userID`
    /// finds a user name's UID. Nil for anything else, or for a user name that is not known.
    public init?(parsing text: String, caller: UInt32, userID: (String) -> UInt32? = { PasswordEntry.lookup(name: $0)?.uid }) {
        let parts = text.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
        guard let last = parts.last, let number = Self.canonical(last, as: Int64.self), number > 0 else { return nil }
        switch parts.count {
        case 1:
            self.init(owner: caller, number: number)
        case 2:
            let user = parts[0]
            if let owner = Self.canonical(user, as: UInt32.self) {
                self.init(owner: owner, number: number)
            } else if !user.isEmpty, let owner = userID(String(user)) {
                self.init(owner: owner, number: number)
            } else {
                return nil
            }
        default:
            return nil
        }
    }

    /// How `s2sctl` shows an object to `caller` so that it can be typed back: `N` for the
    /// caller's own, `USER:N` (or `UID:N` for a UID without a name) for another user's.
    public func text(for caller: UInt32, userName: (UInt32) -> String? = { PasswordEntry.lookup(uid: $0)?.name }) -> String {
        guard owner != caller else { return String(number) }
        // A name that reads as a UID, or holds a colon, would not read back as this user.
        if let name = userName(owner), !name.isEmpty, Self.canonical(name[...], as: UInt32.self) == nil, !name.contains(":") {
            return "\(name):\(number)"
        }
        return description
    }

    public static func < (left: ObjectNumber, right: ObjectNumber) -> Bool {
        (left.owner, left.number) < (right.owner, right.number)
    }

    /// `text` as an integer written canonically: digits only, no leading zero (but "0").
    private static func canonical<T: FixedWidthInteger>(_ text: Substring, as type: T.Type) -> T? {
        guard !text.isEmpty, text.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
            text == "0" || text.first != "0"
        else { return nil }
        return T(text)
    }
}
