import Foundation
import Primitives

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
    let outcome = Promise<Result<T, any Error>>()
    Task { outcome.fulfill(await work.result) }
    let timer = Task {
        guard (try? await Task.sleep(for: .seconds(seconds))) != nil else { return }
        if outcome.fulfill(.failure(TimeoutError(what: what, seconds: seconds))) { work.cancel() }
    }
    defer { timer.cancel() }
    return try await outcome.value.get()
}

/// Runs `body` within `seconds`, then `stop`, whether the body passed, failed or ran out of time:
/// what a test started is stopped on every path.
public func withTimeout<T: Sendable>(
    _ seconds: Double,
    _ what: String,
    thenStop stop: () async -> Void,
    _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    let value: T
    do {
        value = try await withTimeout(seconds, what, body)
    } catch {
        await stop()
        throw error
    }
    await stop()
    return value
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
