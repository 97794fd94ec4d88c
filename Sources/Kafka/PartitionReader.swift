import Foundation
import Logging
import Synchronization

/// Reads bounded offset ranges of partitions outside any consumer group: the submission ledger
/// at assignment, `replay` on the results and requests topics.
public enum PartitionReader {
    /// A partition read to the end of its range, with its records in offset order.
    public typealias ReadPartition = (partition: TopicPartition, messages: [KafkaMessage])

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
        var messages: [KafkaMessage] = []
        for try await read in partitions(ranges, properties: properties, idle: idle, requireEnd: requireEnd, logger: logger) {
            messages += read.messages
        }
        return messages
    }

    /// Reads `ranges` like ``read(_:properties:idle:requireEnd:logger:)``, but hands out each
    /// partition as soon as its range is read, so that a caller can use one partition while the
    /// others are still being read. A partition with an empty range is not handed out. Without
    /// `requireEnd`, the partitions cut short by `idle` come last, with what was read of them.
    /// Ending the iteration early stops the reading.
    public static func partitions(
        _ ranges: [TopicPartition: Range<Int64>],
        properties: KafkaProperties,
        idle: Duration = .seconds(5),
        requireEnd: Bool = false,
        logger: Logger
    ) -> AsyncThrowingStream<ReadPartition, any Error> {
        stream(Reading(ranges: ranges, properties: properties, idle: idle, requireEnd: requireEnd, partSize: .max, logger: logger)) {
            ($0.partition, $0.messages)
        }
    }

    /// Part of a partition's range, in offset order; `finished` on the part that reaches the
    /// range's end.
    public typealias PartitionPart = (partition: TopicPartition, messages: [KafkaMessage], finished: Bool)

    /// Reads `ranges` like ``partitions(_:properties:idle:requireEnd:logger:)``, but hands out
    /// each partition's records in parts of at most `partSize` as they arrive, so that a caller
    /// that folds them into something smaller never holds a whole partition's records.
    public static func parts(
        _ ranges: [TopicPartition: Range<Int64>],
        properties: KafkaProperties,
        idle: Duration = .seconds(5),
        requireEnd: Bool = false,
        partSize: Int,
        logger: Logger
    ) -> AsyncThrowingStream<PartitionPart, any Error> {
        stream(Reading(ranges: ranges, properties: properties, idle: idle, requireEnd: requireEnd, partSize: max(1, partSize), logger: logger)) { $0 }
    }

    /// What to read, and how.
    private struct Reading: Sendable {
        var ranges: [TopicPartition: Range<Int64>]
        var properties: KafkaProperties
        var idle: Duration
        var requireEnd: Bool
        var partSize: Int
        var logger: Logger
    }

    private static func stream<Element: Sendable>(
        _ reading: Reading, _ element: @escaping @Sendable (PartitionPart) -> Element
    ) -> AsyncThrowingStream<Element, any Error> {
        let (stream, continuation) = AsyncThrowingStream.makeStream(of: Element.self)
        var reading = reading
        reading.ranges = reading.ranges.filter { !$0.value.isEmpty }
        let task = Task { [reading] in
            do {
                try await read(reading) { continuation.yield(element($0)) }
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { _ in task.cancel() }
        return stream
    }

    private static func read(_ reading: Reading, emit: @escaping @Sendable (PartitionPart) -> Void) async throws {
        let (ranges, properties, idle, requireEnd, partSize, logger) = (
            reading.ranges, reading.properties, reading.idle, reading.requireEnd, reading.partSize, reading.logger
        )
        var remaining = ranges
        guard !remaining.isEmpty else { return }
        let consumer = try KafkaConsumer(properties: properties, partitions: remaining.mapValues(\.lowerBound), logger: logger)
        let lastArrival = Arrival()
        // Returns the partitions it did not finish, with what it read of them and did not hand
        // out yet (the watchdog stops it).
        let reader = Task { () -> [TopicPartition: [KafkaMessage]] in
            var read: [TopicPartition: [KafkaMessage]] = [:]
            for try await message in consumer.messages {
                lastArrival.touch()
                let partition = TopicPartition(topic: message.topic, partition: message.partition)
                guard let range = remaining[partition] else { continue }
                if range.contains(message.offset) { read[partition, default: []].append(message) }
                let finished = message.offset >= range.upperBound - 1
                if finished || read[partition]?.count ?? 0 >= partSize {
                    emit((partition, read.removeValue(forKey: partition) ?? [], finished))
                }
                guard finished else { continue }
                remaining[partition] = nil
                if remaining.isEmpty { break }
            }
            return remaining.mapValues { _ in [] }.merging(read) { $1 }
        }
        let watchdog = Task {
            while !Task.isCancelled, ContinuousClock.now - lastArrival.last < idle {
                try? await Task.sleep(for: .milliseconds(200))
            }
            reader.cancel()
        }
        let result = await withTaskCancellationHandler { await reader.result } onCancel: { reader.cancel() }
        watchdog.cancel()
        await consumer.close()
        let unfinished = try result.get()
        if requireEnd, !unfinished.isEmpty {
            throw KafkaError.timedOut("\(unfinished.count) partition(s) were not read to their end: nothing arrived for \(idle)")
        }
        for (partition, messages) in unfinished { emit((partition, messages, false)) }
    }
}

/// When the last record arrived, shared by a reader and its idle watchdog.
private final class Arrival: Sendable {
    private let instant = Mutex(ContinuousClock.now)
    func touch() { instant.withLock { $0 = .now } }
    var last: ContinuousClock.Instant { instant.withLock { $0 } }
}
