import CDBus

/// Reads values out of a message with libdbus's iterator. Messages are validated by libdbus on
/// receipt, so the iterator protocol alone is enough to read them safely.
enum MessageReader {
    static func readAll(_ iter: inout DBusMessageIter) throws(BusError) -> [DBusValue] {
        var values: [DBusValue] = []
        while true {
            let code = dbus_message_iter_get_arg_type(&iter)
            if code == S2S_DBUS_TYPE_INVALID { break }
            values.append(try readOne(&iter, code))
            dbus_message_iter_next(&iter)
        }
        return values
    }

    private static func readOne(_ iter: inout DBusMessageIter, _ code: Int32) throws(BusError) -> DBusValue {
        var basic = DBusBasicValue()
        switch code {
        case S2S_DBUS_TYPE_BYTE:
            dbus_message_iter_get_basic(&iter, &basic)
            return .byte(basic.byt)
        case S2S_DBUS_TYPE_BOOLEAN:
            dbus_message_iter_get_basic(&iter, &basic)
            return .boolean(basic.bool_val != 0)
        case S2S_DBUS_TYPE_INT16:
            dbus_message_iter_get_basic(&iter, &basic)
            return .int16(basic.i16)
        case S2S_DBUS_TYPE_UINT16:
            dbus_message_iter_get_basic(&iter, &basic)
            return .uint16(basic.u16)
        case S2S_DBUS_TYPE_INT32:
            dbus_message_iter_get_basic(&iter, &basic)
            return .int32(basic.i32)
        case S2S_DBUS_TYPE_UINT32:
            dbus_message_iter_get_basic(&iter, &basic)
            return .uint32(basic.u32)
        case S2S_DBUS_TYPE_INT64:
            dbus_message_iter_get_basic(&iter, &basic)
            return .int64(Int64(basic.i64))
        case S2S_DBUS_TYPE_UINT64:
            dbus_message_iter_get_basic(&iter, &basic)
            return .uint64(UInt64(basic.u64))
        case S2S_DBUS_TYPE_DOUBLE:
            dbus_message_iter_get_basic(&iter, &basic)
            return .double(basic.dbl)
        case S2S_DBUS_TYPE_STRING, S2S_DBUS_TYPE_OBJECT_PATH, S2S_DBUS_TYPE_SIGNATURE:
            dbus_message_iter_get_basic(&iter, &basic)
            guard let pointer = basic.str else { throw BusError.unexpectedReply("string without data") }
            let text = String(cString: pointer)
            if code == S2S_DBUS_TYPE_STRING { return .string(text) }
            if code == S2S_DBUS_TYPE_OBJECT_PATH {
                guard let path = ObjectPath(text) else { throw BusError.unexpectedReply("invalid object path") }
                return .objectPath(path)
            }
            do { return .signature(try DBusType.parse(text)) } catch {
                throw BusError.unexpectedReply(error.description)
            }
        case S2S_DBUS_TYPE_UNIX_FD:
            // libdbus hands out a fresh duplicate for each read; it is ours to close.
            dbus_message_iter_get_basic(&iter, &basic)
            guard basic.fd >= 0 else { throw BusError.unexpectedReply("Unix fd missing from the message") }
            return .unixFD(UnixFileDescriptor(taking: basic.fd))
        case S2S_DBUS_TYPE_VARIANT:
            var sub = DBusMessageIter()
            dbus_message_iter_recurse(&iter, &sub)
            let inner = dbus_message_iter_get_arg_type(&sub)
            guard inner != S2S_DBUS_TYPE_INVALID else { throw BusError.unexpectedReply("empty variant") }
            return .variant(try readOne(&sub, inner))
        case S2S_DBUS_TYPE_STRUCT:
            var sub = DBusMessageIter()
            dbus_message_iter_recurse(&iter, &sub)
            return .structure(try readAll(&sub))
        case S2S_DBUS_TYPE_ARRAY:
            let arrayType = try currentType(&iter)
            var sub = DBusMessageIter()
            dbus_message_iter_recurse(&iter, &sub)
            switch arrayType {
            case .dictionary(let key, let value):
                var entries: [DBusValue.DictEntry] = []
                while dbus_message_iter_get_arg_type(&sub) == S2S_DBUS_TYPE_DICT_ENTRY {
                    var entry = DBusMessageIter()
                    dbus_message_iter_recurse(&sub, &entry)
                    let pair = try readAll(&entry)
                    guard pair.count == 2 else { throw BusError.unexpectedReply("dictionary entry without two values") }
                    entries.append(DBusValue.DictEntry(pair[0], pair[1]))
                    dbus_message_iter_next(&sub)
                }
                return .dictionary(key: key, value: value, entries)
            case .array(let element):
                return .array(element, try readAll(&sub))
            default:
                throw BusError.unexpectedReply("array with signature \(arrayType)")
            }
        default:
            throw BusError.unexpectedReply("unknown type code \(code)")
        }
    }

    private static func currentType(_ iter: inout DBusMessageIter) throws(BusError) -> DBusType {
        guard let text = dbus_message_iter_get_signature(&iter) else {
            throw BusError.outOfMemory("dbus_message_iter_get_signature")
        }
        defer { dbus_free(text) }
        do { return try DBusType.parseSingle(String(cString: text)) } catch {
            throw BusError.unexpectedReply(error.description)
        }
    }
}

/// Appends values to a message. Callers validate the values first (`DBusValue.validate`): libdbus
/// aborts the process on arguments it considers invalid.
enum MessageWriter {
    static func append(_ value: DBusValue, to iter: inout DBusMessageIter) throws(BusError) {
        let appended: Bool
        switch value {
        case .byte(let v): appended = appendBasic(&iter, S2S_DBUS_TYPE_BYTE, v)
        case .boolean(let v): appended = appendBasic(&iter, S2S_DBUS_TYPE_BOOLEAN, dbus_bool_t(v ? 1 : 0))
        case .int16(let v): appended = appendBasic(&iter, S2S_DBUS_TYPE_INT16, v)
        case .uint16(let v): appended = appendBasic(&iter, S2S_DBUS_TYPE_UINT16, v)
        case .int32(let v): appended = appendBasic(&iter, S2S_DBUS_TYPE_INT32, v)
        case .uint32(let v): appended = appendBasic(&iter, S2S_DBUS_TYPE_UINT32, v)
        case .int64(let v): appended = appendBasic(&iter, S2S_DBUS_TYPE_INT64, v)
        case .uint64(let v): appended = appendBasic(&iter, S2S_DBUS_TYPE_UINT64, v)
        case .double(let v): appended = appendBasic(&iter, S2S_DBUS_TYPE_DOUBLE, v)
        case .string(let v): appended = appendString(&iter, S2S_DBUS_TYPE_STRING, v)
        case .objectPath(let v): appended = appendString(&iter, S2S_DBUS_TYPE_OBJECT_PATH, v.rawValue)
        case .signature(let v): appended = appendString(&iter, S2S_DBUS_TYPE_SIGNATURE, v.signature)
        case .unixFD(let v): appended = appendBasic(&iter, S2S_DBUS_TYPE_UNIX_FD, v.rawValue)
        case .variant(let inner):
            try container(&iter, S2S_DBUS_TYPE_VARIANT, inner.type.signature) { (sub) throws(BusError) in
                try append(inner, to: &sub)
            }
            return
        case .array(let element, let items):
            try container(&iter, S2S_DBUS_TYPE_ARRAY, element.signature) { (sub) throws(BusError) in
                for item in items { try append(item, to: &sub) }
            }
            return
        case .dictionary(let key, let valueType, let entries):
            try container(&iter, S2S_DBUS_TYPE_ARRAY, "{\(key.signature)\(valueType.signature)}") { (sub) throws(BusError) in
                for entry in entries {
                    try container(&sub, S2S_DBUS_TYPE_DICT_ENTRY, nil) { (pair) throws(BusError) in
                        try append(entry.key, to: &pair)
                        try append(entry.value, to: &pair)
                    }
                }
            }
            return
        case .structure(let fields):
            try container(&iter, S2S_DBUS_TYPE_STRUCT, nil) { (sub) throws(BusError) in
                for field in fields { try append(field, to: &sub) }
            }
            return
        }
        guard appended else { throw BusError.outOfMemory("dbus_message_iter_append_basic") }
    }

    private static func appendBasic<T: BitwiseCopyable>(_ iter: inout DBusMessageIter, _ code: Int32, _ value: T) -> Bool {
        withUnsafePointer(to: value) { dbus_message_iter_append_basic(&iter, code, $0) != 0 }
    }

    private static func appendString(_ iter: inout DBusMessageIter, _ code: Int32, _ text: String) -> Bool {
        text.withCString { pointer in
            var cString: UnsafePointer<CChar>? = pointer
            return dbus_message_iter_append_basic(&iter, code, &cString) != 0
        }
    }

    private static func container(
        _ iter: inout DBusMessageIter, _ code: Int32, _ signature: String?,
        _ body: (inout DBusMessageIter) throws(BusError) -> Void
    ) throws(BusError) {
        var sub = DBusMessageIter()
        let opened: Bool =
            if let signature {
                signature.withCString { dbus_message_iter_open_container(&iter, code, $0, &sub) != 0 }
            } else {
                dbus_message_iter_open_container(&iter, code, nil, &sub) != 0
            }
        guard opened else { throw BusError.outOfMemory("dbus_message_iter_open_container") }
        do {
            try body(&sub)
        } catch {
            dbus_message_iter_abandon_container(&iter, &sub)
            throw error
        }
        guard dbus_message_iter_close_container(&iter, &sub) != 0 else {
            throw BusError.outOfMemory("dbus_message_iter_close_container")
        }
    }
}
