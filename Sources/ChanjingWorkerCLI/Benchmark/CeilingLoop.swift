import Foundation
import Kafka
import Logging

/// The fastest a worker could go on this machine and cluster: a bare librdkafka loop that
/// consumes each request, produces a small result for it and stores its offset, with nothing
/// in between. Measured in the same run as the worker, as its ceiling.
enum CeilingLoop {
    /// Requests per second over `count` requests already on `topic`.
    static func measure(brokers: String, topic: String, resultsTopic: String, count: Int, logger: Logger) async throws -> Double {
        let properties = KafkaProperties(["bootstrap.servers": brokers])
        let producer = try KafkaProducer(properties: properties.merging(.init(["linger.ms": "5", "acks": "all", "enable.idempotence": "true"])), logger: logger)
        let consumer = try KafkaConsumer(
            properties: properties.merging(.init(["group.id": "ceiling-\(UUID().uuidString)", "auto.offset.reset": "earliest", "session.timeout.ms": "6000"])),
            topics: [topic],
            logger: logger
        )
        let result = Array(#"{"request_id":"r","status":"submitted","creation_id":"00000000-0000-0000-0000-000000000000"}"#.utf8)
        var started: ContinuousClock.Instant?
        var seen = 0
        try await withThrowingTaskGroup(of: Void.self) { group in
            var inFlight = 0
            for try await message in consumer.messages {
                if started == nil { started = .now }
                if inFlight >= 512 {
                    try await group.next()
                    inFlight -= 1
                }
                inFlight += 1
                group.addTask {
                    try await producer.send(OutgoingMessage(topic: resultsTopic, key: message.key, value: result))
                    consumer.storeOffsets([message.topicPartition: message.offset + 1])
                }
                seen += 1
                if seen == count { break }
            }
            try await group.waitForAll()
        }
        let elapsed = ContinuousClock.now - (started ?? .now)
        consumer.commit()
        await consumer.close()
        await producer.shutdown()
        return Double(count) / max(0.001, elapsed / .seconds(1))
    }
}
