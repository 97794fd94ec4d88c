import Foundation
import Primitives

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
    /// their own timeout (watermark queries in 2.0.2). A call that overruns is abandoned: the
    /// result is nil, and `whenAbandoned` runs on its thread once the call has returned, to free
    /// what the call used (its client).
    static func run<T: Sendable>(
        name: String, deadline: Duration, whenAbandoned: @escaping @Sendable () -> Void, _ body: @escaping @Sendable () -> T
    ) async -> T? {
        // Whichever comes first, the answer or the deadline, holds.
        let outcome = Promise<T?>()
        let thread = Thread {
            if !outcome.fulfill(body()) { whenAbandoned() }
        }
        thread.name = name
        thread.start()
        let timer = Task {
            try? await Task.sleep(for: deadline)
            outcome.fulfill(nil)
        }
        defer { timer.cancel() }
        return await outcome.valueUnlessCancelled() ?? nil
    }
}
