import Foundation
import Kafka
import Logging
import Synchronization

/// A mock Kafka cluster with the worker's two topics, plus helpers to produce requests and
/// read results. Tests set `session.timeout.ms` low so rejoins after a member leaves are quick.
public final class KafkaTestCluster: Sendable {
    public let cluster: MockCluster
    public let requestsTopic: String
    public let resultsTopic: String
    /// The submission ledger's topic, with the requests topic's partition count.
    public let ledgerTopic: String
    /// The topic (one partition) workers with app credentials agree on their token through.
    public let coordinationTopic = "coordination"
    /// The topic completions of followed tasks go to.
    public let completionsTopic = "completions"
    public let partitions: Int
    private let logger: Logger

    /// Properties tests give every client of this cluster.
    public var clientProperties: KafkaProperties {
        // A send cannot wait librdkafka's default 5 minutes: a stuck delivery fails the test.
        KafkaProperties(["bootstrap.servers": cluster.bootstrapServers, "message.timeout.ms": "20000"])
    }

    /// Properties of a consumer in group `g` that reads from the start; its short session
    /// timeout keeps a test's group join and leave quick (librdkafka-notes.md).
    public var groupConsumerProperties: KafkaProperties {
        clientProperties.merging(KafkaProperties(["group.id": "g", "auto.offset.reset": "earliest", "session.timeout.ms": "6000"]))
    }

    public init(partitions: Int = 3, brokers: Int = 1, replicationFactor: Int = 1, logger: Logger = TestLogging.logger("kafka")) throws {
        self.cluster = try MockCluster(brokers: brokers, logger: logger)
        self.requestsTopic = "requests"
        self.resultsTopic = "results"
        self.ledgerTopic = "ledger"
        self.partitions = partitions
        self.logger = logger
        try cluster.createTopic(requestsTopic, partitions: partitions, replicationFactor: replicationFactor)
        try cluster.createTopic(resultsTopic, partitions: partitions, replicationFactor: replicationFactor)
        try cluster.createTopic(ledgerTopic, partitions: partitions, replicationFactor: replicationFactor)
        try cluster.createTopic(coordinationTopic, partitions: 1, replicationFactor: replicationFactor)
        try cluster.createTopic(completionsTopic, partitions: partitions, replicationFactor: replicationFactor)
    }

    /// Produces request values (JSON text) to the requests topic, optionally to one partition.
    public func produce(_ values: [String], keys: [String?]? = nil, partition: Int32? = nil, headers: [KafkaHeader] = []) async throws {
        let producer = try KafkaProducer(properties: clientProperties, logger: logger)
        do {
            for (index, value) in values.enumerated() {
                let key = keys?[index].map { Array($0.utf8) }
                try await producer.send(
                    OutgoingMessage(topic: requestsTopic, partition: partition, key: key, value: Array(value.utf8), headers: headers)
                )
            }
        } catch {
            await producer.shutdown()
            throw error
        }
        await producer.shutdown()
    }

    /// Reads the results topic from the beginning until `count` records arrived (and then, with
    /// `settle`, until none arrived for that long) or `seconds` passed; returns what arrived.
    public func readResults(atLeast count: Int, within seconds: Double, settle: Duration = .zero) async throws -> [KafkaMessage] {
        try await read(resultsTopic, atLeast: count, within: seconds, settle: settle)
    }

    /// Reads `topic` as ``readResults(atLeast:within:settle:)`` reads the results topic.
    public func read(_ topic: String, atLeast count: Int, within seconds: Double, settle: Duration = .zero) async throws -> [KafkaMessage] {
        let deadline = ContinuousClock.now + .seconds(seconds)
        let reader = try await TopicReader(topic: topic, from: .beginning, properties: clientProperties, timeout: .seconds(10), logger: logger) { $0 }
        _ = await reader.wait(for: count, within: deadline - .now)
        if settle > .zero {
            // Keep reading until the topic has been quiet for `settle`.
            var seen = reader.count
            var quietSince = ContinuousClock.now
            await reader.wait(within: deadline - .now) { arrived in
                if arrived.count != seen { (seen, quietSince) = (arrived.count, .now) }
                return ContinuousClock.now - quietSince >= settle
            }
        }
        return await reader.stop()
    }

    /// The group's committed offsets for every requests partition (negative where none).
    public func committedOffsets(group: String) async throws -> [Int32: Int64] {
        let partitions = (0..<Int32(partitions)).map { TopicPartition(topic: requestsTopic, partition: $0) }
        let offsets = try await ClusterInspector.committedOffsets(
            properties: clientProperties, groupID: group, partitions: partitions, timeout: .seconds(10), logger: logger
        )
        return Dictionary(uniqueKeysWithValues: offsets.map { ($0.key.partition, $0.value) })
    }

    /// Runs `body` within `seconds`, then destroys the cluster, whether the body passed or not.
    public func run<T: Sendable>(within seconds: Double, _ what: String = "test step", _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        try await withTimeout(seconds, what, thenStop: shutdown, body)
    }

    /// Destroys the cluster, waiting at most 20 s (a test that failed may leave clients behind).
    public func shutdown() async {
        _ = try? await withTimeout(20, "mock cluster shutdown") { [cluster] in await cluster.shutdown() }
    }
}
