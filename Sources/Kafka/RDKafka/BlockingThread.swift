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

    /// Runs `body` on a new thread, giving up after `deadline`: some librdkafka calls ignore
    /// their own timeout (watermark queries in 2.0.2). A call that overruns is abandoned on its
    /// thread (it holds its client, which is then never destroyed) and the result is nil.
    static func run<T: Sendable>(name: String, deadline: Duration, _ body: @escaping @Sendable () -> T) async -> T? {
        let (results, continuation) = AsyncStream.makeStream(of: T?.self, bufferingPolicy: .bufferingOldest(1))
        let thread = Thread {
            continuation.yield(body())
            continuation.finish()
        }
        thread.name = name
        thread.start()
        let timer = Task {
            try? await Task.sleep(for: deadline)
            continuation.yield(nil)
            continuation.finish()
        }
        defer { timer.cancel() }
        return await results.first { _ in true } ?? nil
    }
}
