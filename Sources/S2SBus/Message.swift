import CDBus

/// A D-Bus message: a method call, a reply, an error or a signal.
///
/// A `Message` is complete when it is made and never changes afterwards, which is what makes it
/// safe to hand between threads (libdbus counts references atomically).
public final class Message: @unchecked Sendable {
    public enum Kind: Sendable, Equatable {
        case methodCall, methodReturn, error, signal, other
    }

    let raw: OpaquePointer

    /// Adopts a reference the caller owns.
    init(taking raw: OpaquePointer) {
        self.raw = raw
    }

    /// Takes a new reference to a message libdbus lends us.
    init(retaining raw: OpaquePointer) {
        dbus_message_ref(raw)
        self.raw = raw
    }

    deinit { dbus_message_unref(raw) }

    // MARK: Making messages

    /// A method call to `member` of `interface` on `path` at `destination`. With `autoStart` false
    /// the bus does not start an activatable service to deliver it: a client that only watches a
    /// service (and must not keep one running) gets `ServiceUnknown` instead.
    public static func methodCall(
        destination: String?, path: ObjectPath, interface: String?, member: String, body: [DBusValue] = [],
        autoStart: Bool = true
    ) throws(BusError) -> Message {
        if let destination { try Names.validateBusName(destination) }
        if let interface { try Names.validateInterface(interface) }
        try Names.validateMember(member)
        guard let raw = dbus_message_new_method_call(destination, path.rawValue, interface, member) else {
            throw BusError.outOfMemory("dbus_message_new_method_call")
        }
        let message = Message(taking: raw)
        if !autoStart { dbus_message_set_auto_start(raw, 0) }
        try message.appendBody(body)
        return message
    }

    /// A signal; with a `destination` it is unicast: the bus delivers it to that connection only.
    public static func signal(
        path: ObjectPath, interface: String, member: String, body: [DBusValue] = [], destination: String? = nil
    ) throws(BusError) -> Message {
        try Names.validateInterface(interface)
        try Names.validateMember(member)
        guard let raw = dbus_message_new_signal(path.rawValue, interface, member) else {
            throw BusError.outOfMemory("dbus_message_new_signal")
        }
        let message = Message(taking: raw)
        if let destination {
            try Names.validateBusName(destination)
            guard dbus_message_set_destination(raw, destination) != 0 else {
                throw BusError.outOfMemory("dbus_message_set_destination")
            }
        }
        try message.appendBody(body)
        return message
    }

    /// The successful reply to this method call.
    public func methodReturn(_ body: [DBusValue] = []) throws(BusError) -> Message {
        try checkReplyable()
        guard let reply = dbus_message_new_method_return(raw) else {
            throw BusError.outOfMemory("dbus_message_new_method_return")
        }
        let message = Message(taking: reply)
        try message.appendBody(body)
        return message
    }

    /// The error reply to this method call.
    public func errorReply(name: String, message text: String) throws(BusError) -> Message {
        try checkReplyable()
        try Names.validateErrorName(name)
        // A message with NUL would be truncated silently by C; replace it rather than lose the rest.
        let safeText = text.replacingNULs()
        guard let reply = dbus_message_new_error(raw, name, safeText) else {
            throw BusError.outOfMemory("dbus_message_new_error")
        }
        return Message(taking: reply)
    }

    /// Only a method call that went through a connection (and so has a serial) can be answered.
    private func checkReplyable() throws(BusError) {
        guard kind == .methodCall, serial != 0 else {
            throw BusError.invalidValue("only a received method call can be replied to")
        }
    }

    // MARK: Headers

    public var kind: Kind {
        switch dbus_message_get_type(raw) {
        case S2S_DBUS_MESSAGE_TYPE_METHOD_CALL: .methodCall
        case S2S_DBUS_MESSAGE_TYPE_METHOD_RETURN: .methodReturn
        case S2S_DBUS_MESSAGE_TYPE_ERROR: .error
        case S2S_DBUS_MESSAGE_TYPE_SIGNAL: .signal
        default: .other
        }
    }

    public var path: ObjectPath? { dbus_message_get_path(raw).flatMap { ObjectPath(String(cString: $0)) } }
    public var interface: String? { dbus_message_get_interface(raw).map { String(cString: $0) } }
    public var member: String? { dbus_message_get_member(raw).map { String(cString: $0) } }
    public var sender: String? { dbus_message_get_sender(raw).map { String(cString: $0) } }
    public var destination: String? { dbus_message_get_destination(raw).map { String(cString: $0) } }
    public var errorName: String? { dbus_message_get_error_name(raw).map { String(cString: $0) } }
    public var signature: String { dbus_message_get_signature(raw).map { String(cString: $0) } ?? "" }
    public var serial: UInt32 { dbus_message_get_serial(raw) }
    public var replySerial: UInt32 { dbus_message_get_reply_serial(raw) }
    public var expectsReply: Bool { dbus_message_get_no_reply(raw) == 0 }
    /// The caller's ALLOW_INTERACTIVE_AUTHORIZATION header flag: it is prepared to wait while an
    /// authorization agent asks its user (for a password, say).
    public var allowsInteractiveAuthorization: Bool { dbus_message_get_allow_interactive_authorization(raw) != 0 }

    // MARK: Body

    /// Reads every argument of the body.
    public func body() throws(BusError) -> [DBusValue] {
        var iter = DBusMessageIter()
        guard dbus_message_iter_init(raw, &iter) != 0 else { return [] }
        return try MessageReader.readAll(&iter)
    }

    /// The error this message carries, if it is an error reply.
    public var error: BusError? {
        guard kind == .error else { return nil }
        let text = (try? body())?.first?.stringValue ?? ""
        return .remote(name: errorName ?? StandardErrorName.failed, message: text)
    }

    private func appendBody(_ values: [DBusValue]) throws(BusError) {
        guard !values.isEmpty else { return }
        for value in values { try value.validate() }
        var iter = DBusMessageIter()
        dbus_message_iter_init_append(raw, &iter)
        for value in values { try MessageWriter.append(value, to: &iter) }
    }

    // MARK: Wire format

    /// The message as the bytes that go on the wire (without any Unix fds it carries). A message
    /// not yet sent has no serial; the copy that is marshalled gets `serial`.
    public func marshal(serial: UInt32 = 1) throws(BusError) -> [UInt8] {
        try withMarshalledBytes(serial: serial) { Array($0) }
    }

    /// How many bytes the message takes on the wire (header, padding and body).
    public func marshalledSize() throws(BusError) -> Int {
        try withMarshalledBytes(serial: 1) { $0.count }
    }

    private func withMarshalledBytes<T>(serial: UInt32, _ body: (UnsafeBufferPointer<UInt8>) -> T) throws(BusError) -> T {
        var source = raw
        var copy: OpaquePointer? = nil
        defer { copy.map { dbus_message_unref($0) } }
        if dbus_message_get_serial(raw) == 0 {
            guard let duplicate = dbus_message_copy(raw) else { throw BusError.outOfMemory("dbus_message_copy") }
            dbus_message_set_serial(duplicate, max(serial, 1))
            copy = duplicate
            source = duplicate
        }
        var buffer: UnsafeMutablePointer<CChar>? = nil
        var length: Int32 = 0
        guard dbus_message_marshal(source, &buffer, &length) != 0, let buffer else {
            throw BusError.outOfMemory("dbus_message_marshal")
        }
        defer { dbus_free(buffer) }
        return buffer.withMemoryRebound(to: UInt8.self, capacity: Int(length)) {
            body(UnsafeBufferPointer(start: $0, count: Int(length)))
        }
    }

    /// Parses wire bytes into a message, validating them as libdbus does for bytes from a socket.
    public static func demarshal(_ bytes: [UInt8]) throws(BusError) -> Message {
        guard bytes.count <= Int(Int32.max) else { throw BusError.invalidValue("message larger than 2 GiB") }
        var error = DBusError()
        dbus_error_init(&error)
        defer { dbus_error_free(&error) }
        let raw: OpaquePointer? = bytes.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { chars in
                dbus_message_demarshal(chars.baseAddress, Int32(chars.count), &error)
            }
        }
        guard let raw else {
            throw BusError.remote(
                name: error.name.map { String(cString: $0) } ?? StandardErrorName.invalidArgs,
                message: error.message.map { String(cString: $0) } ?? "malformed message")
        }
        return Message(taking: raw)
    }
}

extension String {
    func replacingNULs() -> String {
        utf8.contains(0) ? String(decoding: utf8.map { $0 == 0 ? UInt8(ascii: "?") : $0 }, as: UTF8.self) : self
    }
}
