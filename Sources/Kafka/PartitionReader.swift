import Crdkafka
import Foundation
import Logging
import Synchronization

/// Reads bounded offset ranges of partitions outside any consumer group: the submission ledger
/// at assignment, `replay` on the results and requests topics.
public enum PartitionReader {
    /// The records of `ranges` (start inclusive, end exclusive). Stops when every range is read,
    /// or when nothing arrived for `idle` (the last offsets of a range can be transaction
    /// markers, which are never delivered); with `requireEnd`, stopping short of a range's end
    /// throws instead (a topic whose every offset carries a record, such as the ledger).
    public static func read(
        _ ranges: [TopicPartition: Range<Int64>],
        properties: KafkaProperties,
        idle: Duration = .seconds(5),
        requireEnd: Bool = false,
        logger: Logger
    ) async throws -> [KafkaMessage] {
        var remaining = ranges.filter { !$0.value.isEmpty }
        guard !remaining.isEmpty else { return [] }
        let consumer = try KafkaConsumer(properties: properties, partitions: remaining.mapValues(\.lowerBound), logger: logger)
        let lastArrival = Arrival()
        // Returns what it read and how many ranges it did not finish (the watchdog stops it).
        let reader = Task { () -> (messages: [KafkaMessage], unfinished: Int) in
            var messages: [KafkaMessage] = []
            for try await message in consumer.messages {
                lastArrival.touch()
                let partition = TopicPartition(topic: message.topic, partition: message.partition)
                guard let range = remaining[partition] else { continue }
                if range.contains(message.offset) { messages.append(message) }
                if message.offset >= range.upperBound - 1 { remaining[partition] = nil }
                if remaining.isEmpty { break }
            }
            return (messages, remaining.count)
        }
        let watchdog = Task {
            while !Task.isCancelled, ContinuousClock.now - lastArrival.last < idle {
                try? await Task.sleep(for: .milliseconds(200))
            }
            reader.cancel()
        }
        let result = await reader.result
        watchdog.cancel()
        await consumer.close()
        let (messages, unfinished) = try result.get()
        if requireEnd, unfinished > 0 {
            throw KafkaError(RD_KAFKA_RESP_ERR__TIMED_OUT, message: "\(unfinished) partition(s) were not read to their end: nothing arrived for \(idle)")
        }
        return messages
    }
}

/// When the last record arrived, shared by a reader and its idle watchdog.
private final class Arrival: Sendable {
    private let instant = Mutex(ContinuousClock.now)
    func touch() { instant.withLock { $0 = .now } }
    var last: ContinuousClock.Instant { instant.withLock { $0 } }
}
