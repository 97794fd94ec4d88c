import Foundation
import Primitives

/// Runs blocking librdkafka calls on their own OS thread: Swift's cooperative pool has only as
/// many threads as cores, and a blocked one stalls every task.
///
/// Each thread carries its name, as `top -H` and `/proc/<pid>/task/*/comm` show it, so that an
/// operator can tell the poll loops from the executor's threads. Linux keeps the first 15 bytes
/// of a thread's name, so names are kept that short, where they still differ.
enum BlockingThread {
    /// Runs `body` on a new thread and returns its result without blocking the caller's thread.
    static func run<T: Sendable>(name: String, _ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            start(name: name) { continuation.resume(returning: body()) }
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
        start(name: name) {
            if !outcome.fulfill(body()) { whenAbandoned() }
        }
        let timer = Task {
            try? await Task.sleep(for: deadline)
            outcome.fulfill(nil)
        }
        defer { timer.cancel() }
        return await outcome.valueUnlessCancelled() ?? nil
    }

    private static func start(name: String, _ body: @escaping @Sendable () -> Void) {
        assert(name.utf8.count <= 15, "thread name \(name) is longer than Linux keeps")
        Thread {
            // Foundation's `Thread.name` does not name the OS thread on Linux, and Swift does not
            // import `pthread_setname_np` (a GNU extension): the name is written where `top` reads it.
            try? name.write(toFile: "/proc/thread-self/comm", atomically: false, encoding: .utf8)
            body()
        }.start()
    }
}
