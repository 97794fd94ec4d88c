import Crdkafka
import Foundation
import Logging

/// The consumer's poll thread: polls, copies records into the Swift buffer, pauses and resumes
/// the assignment around the buffer's capacity, and closes the consumer when asked to stop.
final class PollLoop: Sendable {
    private let client: RDKafkaClient
    private let rebalance: RebalanceHandler
    private let buffered: SharedCount
    private let bufferedBytes: SharedCount
    private let capacity: Int
    private let byteCapacity: Int
    /// Touched after every poll; a loop stuck in librdkafka stops touching it.
    let progress = ProgressStamp()
    /// Partitions paused by back-pressure.
    let pausedPartitions = SharedCount()
    private let continuation: AsyncThrowingStream<KafkaMessage, any Error>.Continuation
    private let logger: Logger

    init(
        client: RDKafkaClient,
        rebalance: RebalanceHandler,
        buffered: SharedCount,
        bufferedBytes: SharedCount,
        capacity: Int,
        byteCapacity: Int,
        continuation: AsyncThrowingStream<KafkaMessage, any Error>.Continuation,
        logger: Logger
    ) {
        self.client = client
        self.rebalance = rebalance
        self.buffered = buffered
        self.bufferedBytes = bufferedBytes
        self.capacity = capacity
        self.byteCapacity = byteCapacity
        self.continuation = continuation
        self.logger = logger
    }

    /// How long a poll waits for a record: an idle consumer's poll thread wakes this often (a
    /// record, or the stop, ends the wait at once). While paused, the thread looks this often
    /// whether the buffer has drained enough to resume.
    static let idleWait = Duration.seconds(1)
    static let pausedWait = Duration.milliseconds(100)

    /// Runs on the dedicated thread until `stop` is requested, then closes and destroys the
    /// consumer.
    func run(until stop: PollStop, idleWait: Duration) {
        let rk = client.pointer
        var paused = false
        while !stop.isRequested {
            paused = applyBackpressure(paused: paused)
            let polled = rd_kafka_consumer_poll(rk, (paused ? Self.pausedWait : idleWait).milliseconds)
            progress.touch()
            guard let message = polled else { continue }
            let record = message.pointee
            if record.err == RD_KAFKA_RESP_ERR_NO_ERROR {
                let copied = copy(message)
                buffered.add(1)
                bufferedBytes.add(copied.value.count)
                continuation.yield(copied)
            } else if record.err != RD_KAFKA_RESP_ERR__PARTITION_EOF {
                let text = rd_kafka_message_errstr(message).map { String(cString: $0) } ?? ""
                logger.warning("Kafka consumer error: \(text)", metadata: ["kafka.error": "\(KafkaError(record.err).name)"])
            }
            rd_kafka_message_destroy(message)
        }
        stop.release()
        // Closing revokes the assignment through the rebalance callback (final store + commit).
        let closeError = rd_kafka_consumer_close(rk)
        if closeError != RD_KAFKA_RESP_ERR_NO_ERROR {
            logger.warning("Kafka consumer did not close cleanly: \(KafkaError(closeError))")
        }
        continuation.finish()
        client.destroy()
    }

    /// Pauses the assignment when the buffer is full (by count or bytes) and resumes it once half
    /// drained; returns the new paused state. Pausing (not blocking) keeps rebalances and
    /// heartbeats served.
    private func applyBackpressure(paused: Bool) -> Bool {
        let waiting = buffered.current
        let bytes = bufferedBytes.current
        if !paused, waiting >= capacity || bytes >= byteCapacity {
            withAssignment { list in
                pausedPartitions.set(Int(list.pointee.cnt))
                return rd_kafka_pause_partitions(client.pointer, list)
            }
            logger.debug("Consumer paused: \(waiting) records wait to be processed")
            return true
        }
        if paused, waiting <= capacity / 2, bytes <= byteCapacity / 2 {
            withAssignment { rd_kafka_resume_partitions(client.pointer, $0) }
            pausedPartitions.set(0)
            logger.debug("Consumer resumed")
            return false
        }
        return paused
    }

    private func withAssignment(_ body: (UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) -> rd_kafka_resp_err_t) {
        var list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?
        guard rd_kafka_assignment(client.pointer, &list) == RD_KAFKA_RESP_ERR_NO_ERROR, let list else { return }
        defer { rd_kafka_topic_partition_list_destroy(list) }
        let err = body(list)
        if err != RD_KAFKA_RESP_ERR_NO_ERROR {
            logger.warning("Cannot pause or resume partitions: \(KafkaError(err))")
        }
    }

    private func copy(_ pointer: UnsafeMutablePointer<rd_kafka_message_t>) -> KafkaMessage {
        let record = pointer.pointee
        let topic = String(cString: rd_kafka_topic_name(record.rkt))
        let value = record.payload.map { Array(UnsafeRawBufferPointer(start: $0, count: record.len)) } ?? []
        let key = record.key.map { Array(UnsafeRawBufferPointer(start: $0, count: record.key_len)) }
        var timestampType = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
        let timestamp = rd_kafka_message_timestamp(pointer, &timestampType)
        let partition = TopicPartition(topic: topic, partition: record.partition)
        return KafkaMessage(
            topic: topic,
            partition: record.partition,
            offset: record.offset,
            key: key,
            value: value,
            headers: headers(of: pointer),
            timestamp: timestampType == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? nil : Date(timeIntervalSince1970: Double(timestamp) / 1000),
            generation: rebalance.generation(of: partition)
        )
    }

    private func headers(of message: UnsafeMutablePointer<rd_kafka_message_t>) -> [KafkaHeader] {
        var list: OpaquePointer?
        guard rd_kafka_message_headers(message, &list) == RD_KAFKA_RESP_ERR_NO_ERROR, let list else { return [] }
        var headers: [KafkaHeader] = []
        var index = 0
        while true {
            var name: UnsafePointer<CChar>?
            var value: UnsafeRawPointer?
            var size = 0
            guard rd_kafka_header_get_all(list, index, &name, &value, &size) == RD_KAFKA_RESP_ERR_NO_ERROR, let name else { break }
            headers.append(KafkaHeader(name: String(cString: name), value: value.map { Array(UnsafeRawBufferPointer(start: $0, count: size)) }))
            index += 1
        }
        return headers
    }
}
