import Foundation
import Testing
import TestSupport

@testable import Kafka

/// A poll thread waits up to a second for something to serve, so that an idle worker wakes
/// rarely; stopping it must not wait for that. The waits here are 30 s: a stop that did not end
/// the wait would take that long.
@Suite("Stopping a poll thread ends its wait", .serialized)
struct PollStopTests {
    static let longWait = Duration.seconds(30)

    @Test("a producer's shutdown ends its poll thread's wait for a delivery report", .timeLimit(.minutes(1)))
    func producerShutdown() async throws {
        let kafka = try KafkaTestCluster(partitions: 1)
        try await kafka.run(within: 50) {
            let producer = try KafkaProducer(properties: kafka.clientProperties, idleWait: Self.longWait, logger: TestLogging.logger())
            try await producer.send(OutgoingMessage(topic: kafka.requestsTopic, partition: 0, key: nil, value: Array("v".utf8)))
            // Let the poll thread go back to waiting after the report.
            try await Task.sleep(for: .milliseconds(200))
            let started = ContinuousClock.now
            await producer.shutdown(flushTimeout: .seconds(5))
            #expect(ContinuousClock.now - started < .seconds(10))
        }
    }

    @Test("a consumer's close ends its poll's wait, and still commits what was stored", .timeLimit(.minutes(1)))
    func consumerClose() async throws {
        let kafka = try KafkaTestCluster(partitions: 1)
        try await kafka.run(within: 50) {
            try await kafka.produce((0..<3).map { "\($0)" })
            let consumer = try KafkaConsumer(
                properties: kafka.groupConsumerProperties, topics: [kafka.requestsTopic], idleWait: Self.longWait, logger: TestLogging.logger()
            )
            var iterator = consumer.messages.makeAsyncIterator()
            for _ in 0..<3 { _ = try await iterator.next() }
            #expect(consumer.storeOffsets([TopicPartition(topic: kafka.requestsTopic, partition: 0): 3]).isEmpty)
            // Nothing more to read: the poll thread now waits.
            try await Task.sleep(for: .milliseconds(200))
            let started = ContinuousClock.now
            await consumer.close()
            #expect(ContinuousClock.now - started < .seconds(10))
            // Closing revoked the assignment and committed, rather than being cut short by the stop.
            #expect(try await kafka.committedOffsets(group: "g") == [0: 3])
        }
    }
}
