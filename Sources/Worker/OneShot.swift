/// A value sent at most once and awaited by others: the first error that must stop the worker,
/// the port the status server bound.
final class OneShot<Value: Sendable>: Sendable {
    private let stream: AsyncStream<Value>
    private let continuation: AsyncStream<Value>.Continuation

    init() {
        (stream, continuation) = AsyncStream.makeStream(of: Value.self, bufferingPolicy: .bufferingOldest(1))
    }

    /// Sends `value`; only the first send counts.
    func send(_ value: Value) {
        continuation.yield(value)
        continuation.finish()
    }

    /// Ends it without a value: waiters get nil.
    func close() {
        continuation.finish()
    }

    /// The value sent; nil when it was closed without one or the waiting task is cancelled.
    func first() async -> Value? {
        await stream.first { _ in true }
    }
}
