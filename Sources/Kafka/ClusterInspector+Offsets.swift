import Foundation
import Logging

extension ClusterInspector {
    /// The log start (low) and end (high) offsets of each partition, asked of the leaders.
    public static func watermarkOffsets(
        properties: KafkaProperties,
        partitions: [TopicPartition],
        timeout: Duration,
        logger: Logger
    ) async throws(KafkaError) -> [TopicPartition: (low: Int64, high: Int64)] {
        var properties = properties
        properties["allow.auto.create.topics"] = nil
        let client = try RDKafkaClient.make(.producer, properties: properties, context: CallbackContext(logger: logger))
        var offsets: [TopicPartition: (low: Int64, high: Int64)] = [:]
        for partition in partitions {
            let answer: Result<(low: Int64, high: Int64), KafkaError>? = await BlockingThread.run(
                name: "kafka-watermark", deadline: timeout, whenAbandoned: { client.destroy() }
            ) {
                client.watermarkOffsets(of: partition, timeout: timeout)
            }
            guard let answer else {
                // The abandoned call still uses the client: it is destroyed once the call returns.
                throw .timedOut("no answer for the offsets of \(partition) within \(timeout)")
            }
            switch answer {
            case .success(let pair): offsets[partition] = pair
            case .failure(let error):
                await BlockingThread.run(name: "kafka-destroy") { client.destroy() }
                throw error
            }
        }
        await BlockingThread.run(name: "kafka-destroy") { client.destroy() }
        return offsets
    }

    /// For each partition, the offset of the first record at or after `time` (the end offset
    /// when there is none), asked of the leaders within `timeout`.
    public static func offsets(
        at time: Date,
        partitions: [TopicPartition],
        properties: KafkaProperties,
        timeout: Duration,
        logger: Logger
    ) async throws(KafkaError) -> [TopicPartition: Int64] {
        var properties = properties
        properties["allow.auto.create.topics"] = nil
        let client = try RDKafkaClient.make(.producer, properties: properties, context: CallbackContext(logger: logger))
        let milliseconds = Int64(time.timeIntervalSince1970 * 1000)
        let answer: Result<[TopicPartition: Int64], KafkaError>? = await BlockingThread.run(
            name: "kafka-offsets", deadline: timeout, whenAbandoned: { client.destroy() }
        ) {
            client.offsetsForTimes(partitions, timestamp: milliseconds, timeout: timeout)
        }
        guard let answer else {
            throw .timedOut("no answer for the offsets at \(time) within \(timeout)")
        }
        await BlockingThread.run(name: "kafka-destroy") { client.destroy() }
        return try answer.get()
    }
}
