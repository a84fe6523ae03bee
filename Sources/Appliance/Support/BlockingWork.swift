import NIOPosix

/// File system and other blocking work, run on NIO's thread pool, never on the Swift-concurrency
/// pool whose few threads every task shares. When the pool is shutting down the work runs in place
/// rather than being lost (a playlist's end, a recording's last segment).
enum BlockingWork {
    static func run<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        do {
            return try await NIOThreadPool.singleton.runIfActive(body)
        } catch {
            return body()
        }
    }

    static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        do {
            return try await NIOThreadPool.singleton.runIfActive(body)
        } catch is NIOThreadPoolError.ThreadPoolInactive {
            return try body()
        }
    }
}
