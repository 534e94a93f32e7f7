import Logging
import S2SBus
import S2SCore
import S2SEngine

/// The daemon's polkit actions, declared in `Packaging/polkit/org.s2s.Daemon1.policy`.
enum PolkitAction: String, Sendable, CaseIterable {
    /// See, change, delete and cancel other users' endpoints and transfers.
    case manageAll = "org.s2s.Daemon1.manage-all"
    /// Change the daemon-wide limits (`SetLimits`).
    case setLimits = "org.s2s.Daemon1.set-limits"
}

/// Who may do what (docs/security.md, "Who can call what"): the rules stand in
/// `DaemonBusTable` beside each method. Every method of the daemon's interfaces, and every lookup of an object for the standard
/// interfaces (Properties, Introspectable, ObjectManager), starts by asking it.
enum Authorization {
    enum Rule: Sendable, Equatable {
        /// Anyone: the call acts only as and for the caller (its own new endpoint, its own files,
        /// its own signals), or reads what is not secret (the Manager's properties).
        case anyone
        /// The object's owner; anyone else only if root or authorized by polkit for the action.
        case ownerOr(PolkitAction)
        /// Root, or a caller polkit authorizes for the action.
        case administrator(PolkitAction)
    }

    /// The rule of a method of the daemon's own interfaces, from `DaemonBusTable`. A method
    /// missing there is refused.
    static func rule(interface: String, method: String) -> Rule? {
        DaemonBusTable.rule(interface: interface, method: method)
    }

    /// Reading an endpoint or a transfer (properties, introspection, `GetManagedObjects`), and
    /// listing them: the same as acting on them.
    static let objects = Rule.ownerOr(.manageAll)
    /// The Manager object itself (its properties, `Introspect`, `Ping`).
    static let manager = Rule.anyone
}

/// Applies the table to one caller: root may do everything, an owner everything with its own
/// objects, anyone else what polkit authorizes. Without polkit (not installed, or the user daemon
/// on a session bus) only root is an administrator.
struct Authority: Sendable {
    /// nil: no polkit to ask (the user daemon: every caller on its session bus is its own user).
    let polkit: PolkitClient?

    /// The scope of a listing (`ListEndpoints`, `ListTransfers`, `GetManagedObjects`,
    /// introspection, `Subscribe`). Never interactive: a listing must not make an agent ask for a
    /// password, so an administrator who must authenticate sees their own objects until they have.
    func scope(of caller: Caller) async -> Scope {
        if caller.isRoot { return .everyone }
        if let polkit, await polkit.isAuthorized(caller, for: .manageAll, interactive: false) { return .everyone }
        return .owner(caller.uid)
    }

    /// Whether `caller` may act on an object that belongs to `owner`, or on a missing object
    /// (`owner` nil). polkit is asked in both cases, so that its answer and its prompts do not
    /// tell whether another user's object exists; the caller then gets "not found" either way.
    func mayUse(objectOf owner: UInt32?, _ caller: Caller, rule: Authorization.Rule = Authorization.objects) async -> Bool {
        switch rule {
        case .anyone:
            return true
        case .ownerOr(let action):
            if caller.isRoot || owner == caller.uid { return true }
            return await polkit?.isAuthorized(caller, for: action, interactive: caller.allowsInteractiveAuthorization) ?? false
        case .administrator(let action):
            return await isAdministrator(caller, for: action)
        }
    }

    /// Throws `AccessDenied` unless `caller` is root or authorized by polkit for `action`.
    func requireAdministrator(_ caller: Caller, for action: PolkitAction) async throws(EngineError) {
        guard await isAdministrator(caller, for: action) else {
            throw .accessDenied("only an administrator may do this (root, or polkit's \(action.rawValue))")
        }
    }

    private func isAdministrator(_ caller: Caller, for action: PolkitAction) async -> Bool {
        if caller.isRoot { return true }
        return await polkit?.isAuthorized(caller, for: action, interactive: caller.allowsInteractiveAuthorization) ?? false
    }
}

/// Asks polkit (`org.freedesktop.PolicyKit1.Authority.CheckAuthorization` on the system bus)
/// whether the process behind a bus connection may perform an action. The subject is the
/// caller's unique bus name (`system-bus-name`): polkit asks the bus itself who that is, so
/// nothing the caller claims is trusted.
struct PolkitClient: Sendable {
    static let busName = "org.freedesktop.PolicyKit1"
    static let objectPath: ObjectPath = "/org/freedesktop/PolicyKit1/Authority"
    static let interface = "org.freedesktop.PolicyKit1.Authority"
    /// CheckAuthorizationFlags: AllowUserInteraction.
    static let allowUserInteraction: UInt32 = 1

    let connection: BusConnection
    let logger: Logger

    /// The subject, action and flags of a `CheckAuthorization` call: `(sa{sv})`, `s`, `a{ss}`,
    /// `u`, `s`.
    static func checkArguments(busName: String, action: PolkitAction, interactive: Bool) -> [DBusValue] {
        [
            .structure([.string("system-bus-name"), .vardict(["name": .string(busName)])]),
            .string(action.rawValue),
            .dictionary(key: .string, value: .string, []),
            .uint32(interactive ? allowUserInteraction : 0),
            .string(""),
        ]
    }

    /// True only if polkit answered that the caller is authorized. Any failure (polkit is not
    /// installed, does not answer, answers something else) means no.
    func isAuthorized(_ caller: Caller, for action: PolkitAction, interactive: Bool) async -> Bool {
        let reply: [DBusValue]
        do {
            // An agent may be asking the user for a password: give them time.
            reply = try await connection.call(
                destination: Self.busName, path: Self.objectPath, interface: Self.interface, member: "CheckAuthorization",
                Self.checkArguments(busName: caller.uniqueName, action: action, interactive: interactive),
                timeoutMilliseconds: interactive ? 120_000 : 25_000)
        } catch {
            if case .remote(let name, _) = error as? BusError,
                name == "org.freedesktop.DBus.Error.ServiceUnknown" || name == "org.freedesktop.DBus.Error.NameHasNoOwner"
            {
                logger.debug("polkit is not available; only root is an administrator", metadata: ["action": "\(action.rawValue)"])
            } else {
                logger.warning(
                    "cannot ask polkit; treating the call as not authorized",
                    metadata: ["action": "\(action.rawValue)", "caller_uid": "\(caller.uid)", "error": "\(error)"])
            }
            return false
        }
        guard let result = reply.first?.structureValue, result.count == 3, let authorized = result[0].boolValue else {
            logger.warning("polkit gave an unexpected reply; treating the call as not authorized", metadata: ["reply": "\(reply)"])
            return false
        }
        if authorized {
            logger.info(
                "authorized by polkit",
                metadata: ["action": "\(action.rawValue)", "caller_uid": "\(caller.uid)", "caller": "\(caller.uniqueName)"])
        }
        return authorized
    }
}
