import Foundation
import Synchronization

/// A test step that did not finish in time.
public struct TimeoutError: Error, CustomStringConvertible {
    public var what: String
    public var seconds: Double
    public var description: String { "\(what) did not finish within \(seconds) s" }
}

/// Runs `body`, failing with ``TimeoutError`` after `seconds`. On timeout the body is cancelled
/// and abandoned rather than awaited, so even a call that ignores cancellation (a hang inside
/// librdkafka) fails the test instead of stalling the suite.
public func withTimeout<T: Sendable>(
    _ seconds: Double,
    _ what: String = "test step",
    _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    let work = Task { try await body() }
    let outcome = Once<Result<T, any Error>>()
    return try await withCheckedThrowingContinuation { continuation in
        Task {
            let result = await work.result
            if outcome.claim(result) { continuation.resume(with: result) }
        }
        Task {
            try? await Task.sleep(for: .seconds(seconds))
            let timeout = TimeoutError(what: what, seconds: seconds)
            if outcome.claim(.failure(timeout)) {
                work.cancel()
                continuation.resume(throwing: timeout)
            }
        }
    }
}

/// Lets exactly one of several racers deliver a result.
final class Once<Value: Sendable>: Sendable {
    private let claimed = Mutex(false)
    func claim(_ value: Value) -> Bool {
        claimed.withLock { claimed in
            defer { claimed = true }
            return !claimed
        }
    }
}

/// Polls `condition` every 50 ms until it holds, failing after `seconds`.
public func eventually(
    _ seconds: Double,
    _ what: String,
    _ condition: @escaping @Sendable () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + .seconds(seconds)
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(50))
    }
    throw TimeoutError(what: what, seconds: seconds)
}
