/// The shape of a D-Bus interface: the table of its methods, properties and signals.
///
/// A service declares each interface once, as data; the object server validates calls against it,
/// answers `Introspect` from it and rejects what it does not list.
public struct InterfaceDescription: Sendable {
    public let name: String
    public let methods: [Method]
    public let properties: [Property]
    public let signals: [Signal]

    public init(name: String, methods: [Method] = [], properties: [Property] = [], signals: [Signal] = []) {
        self.name = name
        self.methods = methods
        self.properties = properties
        self.signals = signals
    }

    public struct Argument: Sendable {
        public let name: String
        public let type: DBusType
        public init(_ name: String, _ type: DBusType) {
            self.name = name
            self.type = type
        }
    }

    public struct Method: Sendable {
        public let name: String
        public let inputs: [Argument]
        public let outputs: [Argument]
        public init(_ name: String, in inputs: [Argument] = [], out outputs: [Argument] = []) {
            self.name = name
            self.inputs = inputs
            self.outputs = outputs
        }
        public var inputSignature: String { inputs.map(\.type).signature }
    }

    public struct Property: Sendable {
        /// How clients learn about changes: the `org.freedesktop.DBus.Property.EmitsChangedSignal`
        /// annotation.
        public enum ChangeSignal: String, Sendable {
            case emits = "true", invalidates, const, none = "false"
        }
        public let name: String
        public let type: DBusType
        public let writable: Bool
        public let changeSignal: ChangeSignal
        public init(_ name: String, _ type: DBusType, writable: Bool = false, changeSignal: ChangeSignal = .emits) {
            self.name = name
            self.type = type
            self.writable = writable
            self.changeSignal = changeSignal
        }
    }

    public struct Signal: Sendable {
        public let name: String
        public let arguments: [Argument]
        public init(_ name: String, _ arguments: [Argument] = []) {
            self.name = name
            self.arguments = arguments
        }
    }

    public func method(named name: String) -> Method? { methods.first { $0.name == name } }
    public func property(named name: String) -> Property? { properties.first { $0.name == name } }
}

/// The standard interfaces every exported object carries.
public enum StandardInterfaces {
    public static let peer = InterfaceDescription(
        name: "org.freedesktop.DBus.Peer",
        methods: [
            .init("Ping"),
            .init("GetMachineId", out: [.init("machine_uuid", .string)]),
        ])

    public static let introspectable = InterfaceDescription(
        name: "org.freedesktop.DBus.Introspectable",
        methods: [.init("Introspect", out: [.init("xml_data", .string)])])

    public static let properties = InterfaceDescription(
        name: "org.freedesktop.DBus.Properties",
        methods: [
            .init("Get", in: [.init("interface_name", .string), .init("property_name", .string)], out: [.init("value", .variant)]),
            .init("GetAll", in: [.init("interface_name", .string)], out: [.init("props", .dictionary(key: .string, value: .variant))]),
            .init("Set", in: [.init("interface_name", .string), .init("property_name", .string), .init("value", .variant)]),
        ],
        signals: [
            .init("PropertiesChanged", [
                .init("interface_name", .string),
                .init("changed_properties", .dictionary(key: .string, value: .variant)),
                .init("invalidated_properties", .array(.string)),
            ])
        ])

    public static let objectManager = InterfaceDescription(
        name: "org.freedesktop.DBus.ObjectManager",
        methods: [
            .init("GetManagedObjects", out: [.init("object_paths_interfaces_and_properties", ObjectServer.managedObjectsType)])
        ],
        signals: [
            .init("InterfacesAdded", [
                .init("object_path", .objectPath),
                .init("interfaces_and_properties", ObjectServer.interfacesAndPropertiesType),
            ]),
            .init("InterfacesRemoved", [.init("object_path", .objectPath), .init("interfaces", .array(.string))]),
        ])
}
