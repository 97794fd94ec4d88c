import Logging
import Synchronization

/// Follows a topic outside any consumer group, from its first or its next record, keeping what
/// `read` makes of each record: how the demo, `enqueue --wait`, the benchmark and the tests watch
/// the results topic. Reading goes on in the background until ``stop()``.
public final class TopicReader<Record: Sendable>: Sendable {
    /// Where reading starts in every partition.
    public enum Start: Sendable {
        /// The oldest record the topic still holds.
        case beginning
        /// The next record produced (records already there are never read).
        case end
    }

    /// What the reading task shares with the reader's callers.
    private final class Collected: Sendable {
        let records = Mutex<[Record]>([])
        let failure = Mutex<(any Error)?>(nil)
    }

    private let consumer: KafkaConsumer
    private let reading: Task<Void, Never>
    private let collected: Collected

    /// Starts reading every partition of `topic` from `start`. `read` makes the record kept of a
    /// Kafka record, or nil to skip it.
    public init(
        topic: String, from start: Start, properties: KafkaProperties, timeout: Duration, logger: Logger,
        read: @escaping @Sendable (KafkaMessage) -> Record?
    ) async throws(KafkaError) {
        let partitions = try await ClusterInspector.partitions(of: topic, properties: properties, timeout: timeout, logger: logger)
        let offsets = try await ClusterInspector.watermarkOffsets(properties: properties, partitions: partitions, timeout: timeout, logger: logger)
        let consumer = try KafkaConsumer(
            properties: properties, partitions: offsets.mapValues { start == .beginning ? $0.low : $0.high }, logger: logger
        )
        let collected = Collected()
        self.consumer = consumer
        self.collected = collected
        reading = Task {
            do {
                for try await message in consumer.messages {
                    if let record = read(message) { collected.records.withLock { $0.append(record) } }
                }
            } catch {
                collected.failure.withLock { $0 = error }
            }
        }
    }

    /// The records kept so far, in the order they arrived.
    public var records: [Record] { collected.records.withLock { $0 } }

    /// How many records were kept so far.
    public var count: Int { collected.records.withLock { $0.count } }

    /// Waits until `condition` holds for the records kept, or `timeout` passed, or reading
    /// failed; returns the records then. `condition` is checked every 20 ms.
    @discardableResult
    public func wait(within timeout: Duration, until condition: ([Record]) -> Bool) async -> [Record] {
        let deadline = ContinuousClock.now + timeout
        while true {
            let records = self.records
            if condition(records) || ContinuousClock.now >= deadline || collected.failure.withLock({ $0 != nil }) || Task.isCancelled { return records }
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Waits until at least `count` records were kept (true), or `timeout` passed (false).
    public func wait(for count: Int, within timeout: Duration) async -> Bool {
        await wait(within: timeout) { $0.count >= count }.count >= count
    }

    /// Why reading stopped before ``stop()``, if it did.
    public var error: (any Error)? { collected.failure.withLock { $0 } }

    /// Stops reading and closes the consumer; returns every record kept.
    @discardableResult
    public func stop() async -> [Record] {
        await consumer.close()
        await reading.value
        return records
    }
}
