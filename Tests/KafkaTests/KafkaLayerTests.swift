import Foundation
import Kafka
import Synchronization
import Testing
import TestSupport

/// Kafka suites share librdkafka timers and the machine's two cores: they run one at a time.
@Suite("Kafka layer against the mock cluster", .serialized)
struct KafkaLayerTests {
    @Test("records round-trip with keys, headers and delivery offsets", .timeLimit(.minutes(1)))
    func roundTrip() async throws {
        let kafka = try KafkaTestCluster(partitions: 2)
        try await kafka.run(within: 45) {
            let producer = try KafkaProducer(properties: kafka.clientProperties, logger: TestLogging.logger())
            var reports: [DeliveryReport] = []
            for index in 0..<10 {
                reports.append(try await producer.send(OutgoingMessage(
                    topic: kafka.requestsTopic, partition: Int32(index % 2), key: index == 0 ? nil : Array("k\(index)".utf8),
                    value: Array("v\(index)".utf8), headers: [KafkaHeader(name: "traceparent", text: "00-abc"), KafkaHeader(name: "empty", value: nil)]
                )))
            }
            await producer.shutdown()
            #expect(reports.filter { $0.partition == 0 }.map(\.offset) == [0, 1, 2, 3, 4])
            // A send after shutdown (say, a retry timer firing late) is refused, never handed to
            // the destroyed handle.
            do throws(KafkaError) {
                try await producer.send(OutgoingMessage(topic: kafka.requestsTopic, partition: 0, key: nil, value: Array("late".utf8)))
                Issue.record("a send after shutdown succeeded")
            } catch {
                #expect(error.isProducerClosed)
            }

            let consumer = try KafkaConsumer(
                properties: kafka.groupConsumerProperties,
                topics: [kafka.requestsTopic], logger: TestLogging.logger()
            )
            var received: [KafkaMessage] = []
            for try await message in consumer.messages {
                received.append(message)
                if received.count == 10 { break }
            }
            await consumer.close()
            let first = try #require(received.first { $0.value == Array("v0".utf8) })
            #expect(first.key == nil)
            #expect(first.headers == [KafkaHeader(name: "traceparent", text: "00-abc"), KafkaHeader(name: "empty", value: nil)])
            #expect(first.timestamp != nil)
            #expect(first.generation > 0)
            #expect(received.first { $0.value == Array("v3".utf8) }?.key == Array("k3".utf8))
        }
    }

    @Test("sendAll delivers every record once and in order, also when librdkafka's local queue fills", .timeLimit(.minutes(1)))
    func sendAll() async throws {
        let kafka = try KafkaTestCluster(partitions: 2)
        try await kafka.run(within: 45) {
            // A queue of 100 records, so that most of the 3,000 are handed over again after a full queue.
            let producer = try KafkaProducer(
                properties: kafka.clientProperties.merging(.init(["enable.idempotence": "true", "queue.buffering.max.messages": "100"])),
                logger: TestLogging.logger()
            )
            let messages = (0..<3_000).map { OutgoingMessage(topic: kafka.requestsTopic, partition: Int32($0 % 2), key: nil, value: Array("\($0)".utf8)) }
            try await producer.sendAll(messages)
            try await producer.sendAll([])
            await producer.shutdown()
            let records = try await PartitionReader.read(
                [TopicPartition(topic: kafka.requestsTopic, partition: 0): 0..<Int64.max, TopicPartition(topic: kafka.requestsTopic, partition: 1): 0..<Int64.max],
                properties: kafka.clientProperties, idle: .seconds(2), logger: TestLogging.logger()
            )
            for partition in [Int32(0), 1] {
                let values = records.filter { $0.partition == partition }.sorted { $0.offset < $1.offset }.map { Int(String(decoding: $0.value, as: UTF8.self))! }
                #expect(values == Array(stride(from: Int(partition), to: 3_000, by: 2)), "partition \(partition): every record once, in the order given")
            }
            // After shutdown every record is refused, and the first refusal is thrown.
            do throws(KafkaError) {
                try await producer.sendAll(Array(messages.prefix(3)))
                Issue.record("sendAll after shutdown succeeded")
            } catch {
                #expect(error.isProducerClosed)
            }
        }
    }

    @Test("stored and committed positions survive a restart of the group", .timeLimit(.minutes(1)))
    func committedPositions() async throws {
        let kafka = try KafkaTestCluster(partitions: 1)
        try await kafka.run(within: 50) {
            try await kafka.produce((0..<10).map { "\($0)" })
            let properties = kafka.groupConsumerProperties
            let first = try KafkaConsumer(properties: properties, topics: [kafka.requestsTopic], logger: TestLogging.logger())
            for try await message in first.messages {
                if message.offset == 4 {
                    let failures = first.storeOffsets([message.topicPartition: 5])
                    #expect(failures.isEmpty)
                    break
                }
            }
            await first.close()  // commits the stored position
            #expect(try await kafka.committedOffsets(group: "g") == [0: 5])

            let second = try KafkaConsumer(properties: properties, topics: [kafka.requestsTopic], logger: TestLogging.logger())
            var iterator = second.messages.makeAsyncIterator()
            let next = try await iterator.next()
            #expect(next?.offset == 5)
            await second.close()
        }
    }

    @Test("a full buffer pauses the partitions; resuming loses and repeats nothing", .timeLimit(.minutes(1)))
    func backpressure() async throws {
        let kafka = try KafkaTestCluster(partitions: 2)
        try await kafka.run(within: 50) {
            let count = 600
            let producer = try KafkaProducer(properties: kafka.clientProperties, logger: TestLogging.logger())
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<count {
                    group.addTask {
                        try await producer.send(OutgoingMessage(topic: kafka.requestsTopic, partition: Int32(index % 2), key: nil, value: Array("\(index)".utf8)))
                    }
                }
                try await group.waitForAll()
            }
            await producer.shutdown()

            let consumer = try KafkaConsumer(
                properties: kafka.groupConsumerProperties.merging(.init(["queued.max.messages.kbytes": "64"])),
                topics: [kafka.requestsTopic], bufferCapacity: 20, logger: TestLogging.logger()
            )
            var iterator = consumer.messages.makeAsyncIterator()
            var seen: [Int32: [Int64]] = [:]
            let first = try #require(try await iterator.next())
            seen[first.partition, default: []].append(first.offset)
            try await Task.sleep(for: .seconds(2))  // nobody reads: the consumer must pause
            #expect(consumer.bufferedCount < 300, "buffered \(consumer.bufferedCount) of \(count)")
            for _ in 1..<count {
                let message = try #require(try await iterator.next())
                seen[message.partition, default: []].append(message.offset)
            }
            await consumer.close()
            #expect(seen[0] == Array(0..<Int64(count / 2)))
            #expect(seen[1] == Array(0..<Int64(count / 2)))
        }
    }

    @Test("start-up inspection lists topics, and an unreachable cluster is reported as such", .timeLimit(.minutes(1)))
    func inspection() async throws {
        let kafka = try KafkaTestCluster(partitions: 3)
        let topics = try await kafka.run(within: 20) {
            try await ClusterInspector.topicPartitionCounts(properties: kafka.clientProperties, timeout: .seconds(10), logger: TestLogging.logger())
        }
        #expect(topics[kafka.requestsTopic] == 3)
        #expect(topics["never-created"] == nil)

        do {
            _ = try await withTimeout(20) {
                try await ClusterInspector.topicPartitionCounts(
                    properties: KafkaProperties(["bootstrap.servers": "127.0.0.1:1"]), timeout: .seconds(2), logger: TestLogging.logger()
                )
            }
            Issue.record("expected an error")
        } catch let error as KafkaError {
            #expect(error.isUnreachable, "\(error)")
        }
    }

    @Test("a bad property is refused by name, and a secret value is never echoed")
    func badProperties() {
        #expect(throws: KafkaError.self) { try KafkaProducer(properties: KafkaProperties(["no.such.property": "1"]), logger: TestLogging.logger()) }
        do {
            _ = try KafkaProducer(properties: KafkaProperties(["sasl.mechanisms": "PLAIN", "sasl.password": "hunter2-secret", "acks": "hunter2-secret"]), logger: TestLogging.logger())
            Issue.record("expected an error")
        } catch {
            #expect(error.message.contains("acks"))
        }
        #expect(!KafkaProperties(["sasl.password": "hunter2-secret"]).description.contains("hunter2"))
    }
}
