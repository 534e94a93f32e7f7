/// Renders introspection XML in the layout of the files under `/usr/share/dbus-1/interfaces/`.
enum Introspection {
    static let doctype = """
        <!DOCTYPE node PUBLIC "-//freedesktop//DTD D-BUS Object Introspection 1.0//EN"
         "http://www.freedesktop.org/standards/dbus/1.0/introspect.dtd">
        """

    static func document(interfaces: [InterfaceDescription], children: [String]) -> String {
        var xml = doctype + "\n<node>\n"
        for interface in interfaces { xml += render(interface) }
        for child in children { xml += "  <node name=\"\(XMLText.escape(child))\"/>\n" }
        return xml + "</node>\n"
    }

    static func render(_ interface: InterfaceDescription) -> String {
        var xml = "  <interface name=\"\(XMLText.escape(interface.name))\">\n"
        for method in interface.methods {
            let arguments = method.inputs.map { argument($0, direction: "in") } + method.outputs.map { argument($0, direction: "out") }
            if arguments.isEmpty {
                xml += "    <method name=\"\(XMLText.escape(method.name))\"/>\n"
            } else {
                xml += "    <method name=\"\(XMLText.escape(method.name))\">\n" + arguments.joined() + "    </method>\n"
            }
        }
        for signal in interface.signals {
            let arguments = signal.arguments.map { argument($0, direction: nil) }
            if arguments.isEmpty {
                xml += "    <signal name=\"\(XMLText.escape(signal.name))\"/>\n"
            } else {
                xml += "    <signal name=\"\(XMLText.escape(signal.name))\">\n" + arguments.joined() + "    </signal>\n"
            }
        }
        for property in interface.properties {
            let access = property.writable ? "readwrite" : "read"
            let opening = "    <property name=\"\(XMLText.escape(property.name))\" type=\"\(XMLText.escape(property.type.signature))\" access=\"\(access)\""
            if property.changeSignal == .emits {
                xml += opening + "/>\n"
            } else {
                xml += opening + ">\n"
                    + "      <annotation name=\"org.freedesktop.DBus.Property.EmitsChangedSignal\" value=\"\(property.changeSignal.rawValue)\"/>\n"
                    + "    </property>\n"
            }
        }
        return xml + "  </interface>\n"
    }

    private static func argument(_ argument: InterfaceDescription.Argument, direction: String?) -> String {
        let directionAttribute = direction.map { " direction=\"\($0)\"" } ?? ""
        return "      <arg name=\"\(XMLText.escape(argument.name))\" type=\"\(XMLText.escape(argument.type.signature))\"\(directionAttribute)/>\n"
    }
}
