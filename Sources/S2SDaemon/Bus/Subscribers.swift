import S2SBus
import S2SEngine

/// The connections that called `Subscribe`, with the scope the authorization table gave them
/// then: the only ones that get signals, and only about objects in that scope (their own; all
/// for root and for polkit-authorized administrators).
actor Subscribers {
    private var subscribers: [String: (caller: Caller, scope: Scope)] = [:]

    func add(_ caller: Caller, scope: Scope) { subscribers[caller.uniqueName] = (caller, scope) }
    func remove(_ uniqueName: String) { subscribers[uniqueName] = nil }

    /// The subscribers allowed to hear about an object of `owner`.
    func recipients(forOwner owner: UInt32) -> [Caller] {
        subscribers.values.filter { $0.scope.includes(owner: owner) }.map(\.caller)
    }

    var isEmpty: Bool { subscribers.isEmpty }
}
