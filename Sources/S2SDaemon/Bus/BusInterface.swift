import S2SBus

/// One interface of the daemon's bus surface as data, in the spirit of systemd's
/// `timedate_vtable[]`: each method with its signature, its authorization rule and its handler,
/// each property with its type, change signal and getter, and the signals. The introspection
/// data, the authorization table and the dispatch are all derived from it, so the three cannot
/// drift apart; a test holds it to `Packaging/dbus/org.s2s.Daemon1.xml`.
///
/// `Target` is what a method acts on (the service, or one transfer); `Source` is what property
/// values are read from (a snapshot taken once per call).
struct BusInterface<Target: Sendable, Source>: Sendable {
    /// One method: what the bus validates, who may call it, and what runs.
    struct Method: Sendable {
        let description: InterfaceDescription.Method
        let rule: Authorization.Rule
        let handler: @Sendable (Target, [DBusValue], Caller) async throws -> [DBusValue]

        init(
            _ name: String, in inputs: [InterfaceDescription.Argument] = [], out outputs: [InterfaceDescription.Argument] = [],
            rule: Authorization.Rule, _ handler: @escaping @Sendable (Target, [DBusValue], Caller) async throws -> [DBusValue]
        ) {
            self.description = .init(name, in: inputs, out: outputs)
            self.rule = rule
            self.handler = handler
        }
    }

    /// One read-only property and how to read it.
    struct Property: Sendable {
        let description: InterfaceDescription.Property
        let value: @Sendable (Source) -> DBusValue

        init(
            _ name: String, _ type: DBusType, changeSignal: InterfaceDescription.Property.ChangeSignal = .emits,
            _ value: @escaping @Sendable (Source) -> DBusValue
        ) {
            self.description = .init(name, type, changeSignal: changeSignal)
            self.value = value
        }

        var name: String { description.name }
    }

    let name: String
    let methods: [Method]
    let properties: [Property]
    let signals: [InterfaceDescription.Signal]
    /// What the object server validates calls against and introspection shows.
    let description: InterfaceDescription

    init(name: String, methods: [Method] = [], properties: [Property] = [], signals: [InterfaceDescription.Signal] = []) {
        self.name = name
        self.methods = methods
        self.properties = properties
        self.signals = signals
        self.description = InterfaceDescription(
            name: name, methods: methods.map(\.description), properties: properties.map(\.description), signals: signals)
    }

    func method(named name: String) -> Method? {
        methods.first { $0.description.name == name }
    }

    /// Every property's value.
    func values(of source: Source) -> [String: DBusValue] {
        Dictionary(uniqueKeysWithValues: properties.map { ($0.name, $0.value(source)) })
    }

    /// The values of the properties that announce their changes (`EmitsChangedSignal` true) and
    /// differ between `before` and `now`; all of them when there is no `before`.
    func changedValues(from before: Source?, to now: Source) -> [String: DBusValue] {
        var changed: [String: DBusValue] = [:]
        for property in properties where property.description.changeSignal == .emits {
            let value = property.value(now)
            if let before, property.value(before) == value { continue }
            changed[property.name] = value
        }
        return changed
    }

    /// Runs a method for `caller`: the rule is checked first by `authorize`, then the handler
    /// runs; an engine error becomes the daemon's named D-Bus error here, at the edge.
    func call(
        _ name: String, on target: Target, arguments: [DBusValue], caller: Caller,
        authorize: (Authorization.Rule) async throws -> Void
    ) async throws -> [DBusValue] {
        guard let method = method(named: name) else {
            throw BusError.remote(name: StandardErrorName.unknownMethod, message: "no method \(name)")
        }
        try await authorize(method.rule)
        return try await method.handler(target, arguments, caller)
    }
}
