import CDBus
import Dispatch

/// A private connection to a message bus, driven by a serial dispatch queue.
///
/// Every libdbus call on the connection happens on `queue`: libdbus's own blocking loop would
/// delay messages sent from other threads (see PLATFORM-NOTES), so watches and timeouts become
/// dispatch sources and incoming messages are dispatched from there. async/await bridges in.
public final class BusConnection: @unchecked Sendable {
    /// The serial queue that owns the connection; all mutable state below is confined to it.
    let queue: DispatchQueue
    let raw: OpaquePointer
    /// The connection's unique name on the bus, e.g. `:1.42`.
    public let uniqueName: String

    private var watches: [OpaquePointer: WatchSources] = [:]
    private var timeouts: [OpaquePointer: any DispatchSourceTimer] = [:]
    private var signalHandlers: [UInt64: @Sendable (Message) -> Void] = [:]
    private var disconnectHandlers: [UInt64: @Sendable () -> Void] = [:]
    private var methodCallHandler: (@Sendable (Message) -> Void)?
    private var nextHandlerID: UInt64 = 0
    private var isOpen = true

    private struct WatchSources {
        var read: (any DispatchSourceRead)?
        var write: (any DispatchSourceWrite)?
    }

    /// libdbus's default time-out for a reply (25 seconds).
    public static let defaultTimeout: Int32 = -1

    private static let threadsInitialized: Bool = dbus_threads_init_default() != 0

    private init(raw: OpaquePointer, uniqueName: String, queue: DispatchQueue) {
        self.raw = raw
        self.uniqueName = uniqueName
        self.queue = queue
    }

    /// A private connection must be closed before its last reference goes, or libdbus aborts.
    /// Nothing else can touch the connection now: dispatch sources hold it weakly.
    deinit {
        if isOpen {
            for (_, sources) in watches {
                sources.read?.cancel()
                sources.write?.cancel()
            }
            for (_, timer) in timeouts { timer.cancel() }
            dbus_connection_close(raw)
        }
        dbus_connection_unref(raw)
    }

    // MARK: Connecting

    /// Connects to a bus and registers on it (the `Hello` call).
    public static func connect(
        _ bus: BusAddress, environment: [String: String]
    ) async throws -> BusConnection {
        guard threadsInitialized else { throw BusError.outOfMemory("dbus_threads_init_default") }
        let address = try bus.resolve(environment: environment)
        let queue = DispatchQueue(label: "s2s.bus")
        return try await withCheckedThrowingContinuation { continuation in
            queue.async {
                continuation.resume(with: Result { () throws(BusError) in
                    try open(address: address, description: bus.description, queue: queue)
                })
            }
        }
    }

    private static func open(address: String, description: String, queue: DispatchQueue) throws(BusError) -> BusConnection {
        var error = DBusError()
        dbus_error_init(&error)
        defer { dbus_error_free(&error) }
        guard let raw = dbus_connection_open_private(address, &error) else {
            throw BusError.disconnected("cannot connect to the \(description): \(Self.describe(error))")
        }
        // The Hello call blocks this queue briefly; nothing else runs on it yet.
        guard dbus_bus_register(raw, &error) != 0, let namePointer = dbus_bus_get_unique_name(raw) else {
            let reason = Self.describe(error)
            dbus_connection_close(raw)
            dbus_connection_unref(raw)
            throw BusError.disconnected("cannot register on the \(description): \(reason)")
        }
        dbus_connection_set_exit_on_disconnect(raw, 0)
        let connection = BusConnection(raw: raw, uniqueName: String(cString: namePointer), queue: queue)
        try connection.installMainLoop()
        return connection
    }

    static func describe(_ error: DBusError) -> String {
        error.message.map { String(cString: $0) } ?? error.name.map { String(cString: $0) } ?? "unknown error"
    }

    // MARK: Sending

    /// Sends a message that expects no reply: a signal, or a reply to a call.
    public func send(_ message: Message) async throws {
        try await onQueue { () throws(BusError) in
            try self.checkSendable(message)
            guard dbus_connection_send(self.raw, message.raw, nil) != 0 else {
                throw BusError.outOfMemory("dbus_connection_send")
            }
        }
    }

    /// Sends a method call and waits for its reply; an error reply is thrown as `BusError.remote`.
    public func call(_ message: Message, timeoutMilliseconds: Int32 = BusConnection.defaultTimeout) async throws -> Message {
        let reply: Message = try await withCheckedThrowingContinuation { continuation in
            queue.async {
                do throws(BusError) {
                    try self.checkSendable(message)
                    var pending: OpaquePointer? = nil
                    guard dbus_connection_send_with_reply(self.raw, message.raw, &pending, timeoutMilliseconds) != 0 else {
                        throw BusError.outOfMemory("dbus_connection_send_with_reply")
                    }
                    guard let pending else { throw BusError.disconnected("the connection is closed") }
                    defer { dbus_pending_call_unref(pending) }
                    let box = ReplyBox(continuation)
                    let context = Unmanaged.passRetained(box).toOpaque()
                    guard dbus_pending_call_set_notify(pending, BusConnection.replyArrived, context, BusConnection.releaseReplyBox) != 0 else {
                        Unmanaged<ReplyBox>.fromOpaque(context).release()
                        dbus_pending_call_cancel(pending)
                        throw BusError.outOfMemory("dbus_pending_call_set_notify")
                    }
                    if dbus_pending_call_get_completed(pending) != 0 { box.complete(pending) }
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
        if let error = reply.error { throw error }
        return reply
    }

    /// The largest message sent: the system bus's default `max_message_size`. A bus drops a
    /// connection that sends more than its limit, so a larger message is refused here instead,
    /// as an error for that one message.
    public static let maxMessageSize = 32 << 20

    private func checkSendable(_ message: Message) throws(BusError) {
        guard isOpen, dbus_connection_get_is_connected(raw) != 0 else {
            throw BusError.disconnected("the connection is closed")
        }
        let size = try message.marshalledSize()
        guard size <= Self.maxMessageSize else { throw BusError.messageTooLarge(size: size, limit: Self.maxMessageSize) }
        if dbus_message_contains_unix_fds(message.raw) != 0,
            dbus_connection_can_send_type(raw, S2S_DBUS_TYPE_UNIX_FD) == 0
        {
            throw BusError.invalidValue("this connection cannot pass Unix file descriptors")
        }
    }

    /// Holds the continuation of one pending call; resumes it exactly once.
    private final class ReplyBox: @unchecked Sendable {
        private var continuation: CheckedContinuation<Message, any Error>?
        init(_ continuation: CheckedContinuation<Message, any Error>) { self.continuation = continuation }

        /// Called on the connection's queue only.
        func complete(_ pending: OpaquePointer) {
            guard let continuation else { return }
            self.continuation = nil
            if let reply = dbus_pending_call_steal_reply(pending) {
                continuation.resume(returning: Message(taking: reply))
            } else {
                continuation.resume(throwing: BusError.disconnected("no reply"))
            }
        }
    }

    private static let replyArrived: DBusPendingCallNotifyFunction = { pending, context in
        guard let pending, let context else { return }
        Unmanaged<ReplyBox>.fromOpaque(context).takeUnretainedValue().complete(pending)
    }

    private static let releaseReplyBox: DBusFreeFunction = { context in
        guard let context else { return }
        Unmanaged<ReplyBox>.fromOpaque(context).release()
    }

    // MARK: Receiving

    /// Routes every incoming method call to `handler` (called on the connection's queue; it must
    /// not block). Without a handler, libdbus answers calls with `UnknownMethod`.
    public func setMethodCallHandler(_ handler: @escaping @Sendable (Message) -> Void) async {
        await onQueue { self.methodCallHandler = handler }
    }

    /// Every signal this connection receives, until the stream is dropped or the bus goes away.
    /// Use `addMatch` to ask the bus for broadcast signals; unicast ones arrive regardless.
    public func signals() async -> AsyncStream<Message> {
        let (stream, continuation) = AsyncStream<Message>.makeStream(bufferingPolicy: .bufferingNewest(1024))
        let id: UInt64 = await onQueue {
            self.nextHandlerID += 1
            self.signalHandlers[self.nextHandlerID] = { continuation.yield($0) }
            self.disconnectHandlers[self.nextHandlerID] = { continuation.finish() }
            if !self.isOpen { continuation.finish() }
            return self.nextHandlerID
        }
        continuation.onTermination = { [weak self] _ in
            guard let self else { return }
            self.queue.async {
                self.signalHandlers[id] = nil
                self.disconnectHandlers[id] = nil
            }
        }
        return stream
    }

    /// Returns when the connection is closed, by us or by the bus.
    public func waitUntilDisconnected() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            queue.async {
                guard self.isOpen else { return continuation.resume() }
                self.nextHandlerID += 1
                self.disconnectHandlers[self.nextHandlerID] = { continuation.resume() }
            }
        }
    }

    /// Closes the connection; pending calls fail and signal streams end.
    public func close() {
        queue.async { self.shutDown() }
    }

    private func shutDown() {
        guard isOpen else { return }
        isOpen = false
        dbus_connection_close(raw)
        // Closing makes libdbus queue its Disconnected message; dispatch it so pending calls end.
        while dbus_connection_dispatch(raw) == DBUS_DISPATCH_DATA_REMAINS {}
        for (_, sources) in watches {
            sources.read?.cancel()
            sources.write?.cancel()
        }
        watches = [:]
        for (_, timer) in timeouts { timer.cancel() }
        timeouts = [:]
        let handlers = disconnectHandlers
        disconnectHandlers = [:]
        signalHandlers = [:]
        methodCallHandler = nil
        for (_, handler) in handlers { handler() }
    }

    // MARK: Queue helpers

    func onQueue<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            queue.async { continuation.resume(returning: body()) }
        }
    }

    func onQueue<T: Sendable>(_ body: @escaping @Sendable () throws(BusError) -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result(catching: body)) }
        }
    }

    // MARK: Main loop integration

    private func installMainLoop() throws(BusError) {
        // libdbus holds a weak reference to us through each callback context, so that no callback
        // can revive the connection while it is being deinitialized.
        let context = CallbackContext(self)
        func retained() -> UnsafeMutableRawPointer { Unmanaged.passRetained(context).toOpaque() }
        guard dbus_connection_set_watch_functions(raw, Self.addWatch, Self.removeWatch, Self.toggleWatch, retained(), Self.releaseContext) != 0,
            dbus_connection_set_timeout_functions(raw, Self.addTimeout, Self.removeTimeout, Self.toggleTimeout, retained(), Self.releaseContext) != 0,
            dbus_connection_add_filter(raw, Self.filter, retained(), Self.releaseContext) != 0
        else {
            throw BusError.outOfMemory("installing the main loop")
        }
        dbus_connection_set_dispatch_status_function(raw, Self.dispatchStatusChanged, retained(), Self.releaseContext)
        dbus_connection_set_wakeup_main_function(raw, Self.wakeUp, retained(), Self.releaseContext)
        scheduleDrain()
    }

    private final class CallbackContext: @unchecked Sendable {
        weak var connection: BusConnection?
        init(_ connection: BusConnection) { self.connection = connection }
    }

    private static let releaseContext: DBusFreeFunction = { context in
        guard let context else { return }
        Unmanaged<CallbackContext>.fromOpaque(context).release()
    }

    private static func connection(_ context: UnsafeMutableRawPointer?) -> BusConnection? {
        context.flatMap { Unmanaged<CallbackContext>.fromOpaque($0).takeUnretainedValue().connection }
    }

    private func scheduleDrain() {
        queue.async { self.drain() }
    }

    private func drain() {
        guard isOpen else { return }
        while dbus_connection_dispatch(raw) == DBUS_DISPATCH_DATA_REMAINS {}
    }

    private func updateWatch(_ watch: OpaquePointer) {
        var sources = watches[watch] ?? WatchSources()
        sources.read?.cancel()
        sources.write?.cancel()
        sources = WatchSources()
        if dbus_watch_get_enabled(watch) != 0 {
            let fd = dbus_watch_get_unix_fd(watch)
            let flags = Int32(dbus_watch_get_flags(watch))
            if flags & S2S_DBUS_WATCH_READABLE != 0 {
                let source = DispatchSource.makeReadSource(fileDescriptor: fd, queue: queue)
                source.setEventHandler { [weak self] in self?.handle(watch, S2S_DBUS_WATCH_READABLE) }
                source.resume()
                sources.read = source
            }
            if flags & S2S_DBUS_WATCH_WRITABLE != 0 {
                let source = DispatchSource.makeWriteSource(fileDescriptor: fd, queue: queue)
                source.setEventHandler { [weak self] in self?.handle(watch, S2S_DBUS_WATCH_WRITABLE) }
                source.resume()
                sources.write = source
            }
        }
        watches[watch] = sources
    }

    private func handle(_ watch: OpaquePointer, _ condition: Int32) {
        guard isOpen, watches[watch] != nil else { return }
        // FALSE means out of memory; libdbus asks to be called again, which the source will do.
        _ = dbus_watch_handle(watch, UInt32(condition))
        drain()
    }

    private func updateTimeout(_ timeout: OpaquePointer) {
        timeouts[timeout]?.cancel()
        timeouts[timeout] = nil
        guard dbus_timeout_get_enabled(timeout) != 0 else { return }
        let interval = DispatchTimeInterval.milliseconds(Int(max(dbus_timeout_get_interval(timeout), 0)))
        let timer = DispatchSource.makeTimerSource(queue: queue)
        timer.schedule(deadline: .now() + interval, repeating: interval)
        timer.setEventHandler { [weak self] in
            guard let self, self.isOpen, self.timeouts[timeout] != nil else { return }
            _ = dbus_timeout_handle(timeout)
            self.drain()
        }
        timer.resume()
        timeouts[timeout] = timer
    }

    private static let addWatch: DBusAddWatchFunction = { watch, context in
        guard let watch, let connection = connection(context) else { return 0 }
        connection.updateWatch(watch)
        return 1
    }

    private static let removeWatch: DBusRemoveWatchFunction = { watch, context in
        guard let watch, let connection = connection(context) else { return }
        connection.watches[watch]?.read?.cancel()
        connection.watches[watch]?.write?.cancel()
        connection.watches[watch] = nil
    }

    private static let toggleWatch: DBusWatchToggledFunction = { watch, context in
        guard let watch, let connection = connection(context) else { return }
        connection.updateWatch(watch)
    }

    private static let addTimeout: DBusAddTimeoutFunction = { timeout, context in
        guard let timeout, let connection = connection(context) else { return 0 }
        connection.updateTimeout(timeout)
        return 1
    }

    private static let removeTimeout: DBusRemoveTimeoutFunction = { timeout, context in
        guard let timeout, let connection = connection(context) else { return }
        connection.timeouts[timeout]?.cancel()
        connection.timeouts[timeout] = nil
    }

    private static let toggleTimeout: DBusTimeoutToggledFunction = { timeout, context in
        guard let timeout, let connection = connection(context) else { return }
        connection.updateTimeout(timeout)
    }

    private static let dispatchStatusChanged: DBusDispatchStatusFunction = { _, status, context in
        guard status == DBUS_DISPATCH_DATA_REMAINS, let connection = connection(context) else { return }
        connection.scheduleDrain()
    }

    private static let wakeUp: DBusWakeupMainFunction = { context in
        connection(context)?.scheduleDrain()
    }

    private static let filter: DBusHandleMessageFunction = { _, rawMessage, context in
        guard let rawMessage, let connection = connection(context) else { return DBUS_HANDLER_RESULT_NOT_YET_HANDLED }
        let message = Message(retaining: rawMessage)
        switch message.kind {
        case .signal:
            if message.interface == "org.freedesktop.DBus.Local", message.member == "Disconnected" {
                connection.queue.async { connection.shutDown() }
                return DBUS_HANDLER_RESULT_HANDLED
            }
            for (_, handler) in connection.signalHandlers { handler(message) }
            return DBUS_HANDLER_RESULT_NOT_YET_HANDLED
        case .methodCall:
            guard let handler = connection.methodCallHandler else { return DBUS_HANDLER_RESULT_NOT_YET_HANDLED }
            handler(message)
            return DBUS_HANDLER_RESULT_HANDLED
        default:
            return DBUS_HANDLER_RESULT_NOT_YET_HANDLED
        }
    }
}
