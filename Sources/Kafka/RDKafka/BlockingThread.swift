import Foundation

/// Runs blocking librdkafka calls on their own OS thread: Swift's cooperative pool has only as
/// many threads as cores, and a blocked one stalls every task.
enum BlockingThread {
    /// Runs `body` on a new thread and returns its result without blocking the caller's thread.
    static func run<T: Sendable>(name: String, _ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            let thread = Thread {
                continuation.resume(returning: body())
            }
            thread.name = name
            thread.start()
        }
    }
}
