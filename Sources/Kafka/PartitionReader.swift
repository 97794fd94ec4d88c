import Crdkafka
import Foundation
import Logging
import Synchronization

/// Reads bounded offset ranges of partitions outside any consumer group: the submission ledger
/// at assignment, `replay` on the results and requests topics.
public enum PartitionReader {
    /// The records of `ranges` (start inclusive, end exclusive), grouped by partition, each in
    /// offset order. Stops when every range is read, or when nothing arrived for `idle` (the last
    /// offsets of a range can be transaction markers, which are never delivered); with
    /// `requireEnd`, stopping short of a range's end throws instead (a topic whose every offset
    /// carries a record, such as the ledger).
    public static func read(
        _ ranges: [TopicPartition: Range<Int64>],
        properties: KafkaProperties,
        idle: Duration = .seconds(5),
        requireEnd: Bool = false,
        logger: Logger
    ) async throws -> [KafkaMessage] {
        let read = Mutex<[KafkaMessage]>([])
        try await self.read(ranges, properties: properties, idle: idle, requireEnd: requireEnd, logger: logger) { _, messages in
            read.withLock { $0.append(contentsOf: messages) }
        }
        return read.withLock { $0 }
    }

    /// Reads `ranges` like ``read(_:properties:idle:requireEnd:logger:)``, but hands each
    /// partition's records to `partitionRead` as soon as its range is read, so that a caller can
    /// use one partition while the others are still being read. The handler runs on the reader,
    /// one partition at a time; a partition with an empty range is not handed. Without
    /// `requireEnd`, the partitions cut short by `idle` are handed what was read of them.
    public static func read(
        _ ranges: [TopicPartition: Range<Int64>],
        properties: KafkaProperties,
        idle: Duration = .seconds(5),
        requireEnd: Bool = false,
        logger: Logger,
        partitionRead: @escaping @Sendable (TopicPartition, [KafkaMessage]) async throws -> Void
    ) async throws {
        var remaining = ranges.filter { !$0.value.isEmpty }
        guard !remaining.isEmpty else { return }
        let consumer = try KafkaConsumer(properties: properties, partitions: remaining.mapValues(\.lowerBound), logger: logger)
        let lastArrival = Arrival()
        // Returns the partitions it did not finish, with what it read of them (the watchdog stops it).
        let reader = Task { () -> [TopicPartition: [KafkaMessage]] in
            var read: [TopicPartition: [KafkaMessage]] = [:]
            for try await message in consumer.messages {
                lastArrival.touch()
                let partition = TopicPartition(topic: message.topic, partition: message.partition)
                guard let range = remaining[partition] else { continue }
                if range.contains(message.offset) { read[partition, default: []].append(message) }
                guard message.offset >= range.upperBound - 1 else { continue }
                remaining[partition] = nil
                // The handler's own time is not the broker's silence.
                lastArrival.handling = true
                defer { lastArrival.handling = false; lastArrival.touch() }
                try await partitionRead(partition, read.removeValue(forKey: partition) ?? [])
                if remaining.isEmpty { break }
            }
            return remaining.mapValues { _ in [] }.merging(read) { $1 }
        }
        let watchdog = Task {
            while !Task.isCancelled, lastArrival.handling || ContinuousClock.now - lastArrival.last < idle {
                try? await Task.sleep(for: .milliseconds(200))
            }
            reader.cancel()
        }
        let result = await reader.result
        watchdog.cancel()
        await consumer.close()
        let unfinished = try result.get()
        if requireEnd, !unfinished.isEmpty {
            throw KafkaError(RD_KAFKA_RESP_ERR__TIMED_OUT, message: "\(unfinished.count) partition(s) were not read to their end: nothing arrived for \(idle)")
        }
        for (partition, messages) in unfinished { try await partitionRead(partition, messages) }
    }
}

/// When the last record arrived, and whether the reader is handing a partition to its caller,
/// shared by a reader and its idle watchdog.
private final class Arrival: Sendable {
    private let state = Mutex((last: ContinuousClock.now, handling: false))
    func touch() { state.withLock { $0.last = .now } }
    var last: ContinuousClock.Instant { state.withLock { $0.last } }
    var handling: Bool {
        get { state.withLock { $0.handling } }
        set { state.withLock { $0.handling = newValue } }
    }
}
