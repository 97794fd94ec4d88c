import Synchronization

/// A count shared between the poll thread that fills a buffer and the task that drains it.
final class SharedCount: Sendable {
    private let value = Atomic<Int>(0)
    var current: Int { value.load(ordering: .relaxed) }
    func add(_ delta: Int) { value.add(delta, ordering: .relaxed) }
    func set(_ new: Int) { value.store(new, ordering: .relaxed) }
}

/// The last time a thread reported progress, read by health checks on other threads.
final class ProgressStamp: Sendable {
    private let base = ContinuousClock.now
    private let nanoseconds = Atomic<Int64>(0)

    func touch() {
        let elapsed = ContinuousClock.now - base
        nanoseconds.store(elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000, ordering: .relaxed)
    }

    var last: ContinuousClock.Instant { base + .nanoseconds(nanoseconds.load(ordering: .relaxed)) }
}

extension Duration {
    /// Whole milliseconds, clamped to librdkafka's `int` timeouts.
    var milliseconds: Int32 {
        let (seconds, attoseconds) = components
        return Int32(clamping: seconds * 1000 + attoseconds / 1_000_000_000_000_000)
    }
}

/// The text librdkafka wrote into an `errstr` buffer.
func errorText(_ buffer: [CChar]) -> String {
    String(decoding: buffer.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
