#if canImport(Glibc)
import Glibc
#endif

/// A closure run once on a detached POSIX thread of its own, which exits afterwards: for work
/// that blocks for long (a user's file system identity, SRT's blocking calls) and so must not
/// hold a thread of Swift's cooperative pool or of an event loop.
public enum DetachedThread {
    private final class Work: Sendable {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }

    /// Starts `body` on a new thread; returns why the thread could not be created instead.
    public static func start(_ body: @escaping @Sendable () -> Void) -> String? {
        var attributes = pthread_attr_t()
        guard pthread_attr_init(&attributes) == 0 else { return "pthread_attr_init failed" }
        defer { pthread_attr_destroy(&attributes) }
        pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
        let context = Unmanaged.passRetained(Work(body)).toOpaque()
        var thread = pthread_t()
        let status = pthread_create(&thread, &attributes, { context in
            guard let context else { return nil }
            Unmanaged<Work>.fromOpaque(context).takeRetainedValue().body()
            return nil
        }, context)
        guard status == 0 else {
            Unmanaged<Work>.fromOpaque(context).release()
            return "pthread_create: \(String(cString: strerror(status)))"
        }
        return nil
    }
}
