import Foundation
import Synchronization

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
        let (results, continuation) = AsyncStream.makeStream(of: T?.self, bufferingPolicy: .bufferingOldest(1))
        let race = DeadlineRace()
        let thread = Thread {
            let result = body()
            if race.settle(.answered) {
                continuation.yield(result)
                continuation.finish()
            } else {
                whenAbandoned()
            }
        }
        thread.name = name
        thread.start()
        let timer = Task {
            try? await Task.sleep(for: deadline)
            if race.settle(.abandoned) {
                continuation.yield(nil)
                continuation.finish()
            }
        }
        defer { timer.cancel() }
        return await results.first { _ in true } ?? nil
    }
}

/// Whether a call with a deadline answered or was abandoned: whichever comes first holds.
private final class DeadlineRace: Sendable {
    enum Outcome {
        case answered, abandoned
    }

    private let outcome = Mutex<Outcome?>(nil)

    /// Settles the race as `outcome`; false when it was already settled the other way.
    func settle(_ outcome: Outcome) -> Bool {
        self.outcome.withLock { settled in
            guard settled == nil else { return false }
            settled = outcome
            return true
        }
    }
}
