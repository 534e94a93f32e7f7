import S2SBus

/// The connections that called `Subscribe`, with their UIDs: the only ones that get signals, and
/// only about objects they own (root: all).
actor Subscribers {
    private var uids: [String: UInt32] = [:]

    func add(_ caller: Caller) { uids[caller.uniqueName] = caller.uid }
    func remove(_ uniqueName: String) { uids[uniqueName] = nil }

    /// The subscribers allowed to hear about an object of `owner`, with their UIDs.
    func recipients(forOwner owner: UInt32) -> [Caller] {
        uids.filter { $0.value == owner || $0.value == 0 }.map { Caller(uniqueName: $0.key, uid: $0.value) }
    }

    var isEmpty: Bool { uids.isEmpty }
}
