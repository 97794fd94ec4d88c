import Foundation

/// A test step that did not finish in time.
public struct TimeoutError: Error, CustomStringConvertible {
    public var what: String
    public var seconds: Double
    public var description: String { "\(what) did not finish within \(seconds) s" }
}

/// Runs `body`, failing with ``TimeoutError`` after `seconds`. The body is cancelled then, so a
/// hang inside librdkafka fails the test instead of stalling the suite (every wait in the tests
/// goes through cancellation-aware code).
public func withTimeout<T: Sendable>(
    _ seconds: Double,
    _ what: String = "test step",
    _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: .seconds(seconds))
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let value = first else {
            throw TimeoutError(what: what, seconds: seconds)
        }
        return value
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
