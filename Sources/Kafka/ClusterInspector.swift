import Logging

/// Start-up checks against a cluster: can it be reached, and which topics exist with how many
/// partitions. It asks for the metadata of all topics, which never auto-creates one.
public enum ClusterInspector {
    /// Partition counts of every topic on the cluster.
    ///
    /// Throws a ``KafkaError`` whose ``KafkaError/isUnreachable`` is true when no broker answered
    /// within `timeout`.
    public static func topicPartitionCounts(
        properties: KafkaProperties,
        timeout: Duration,
        logger: Logger
    ) async throws(KafkaError) -> [String: Int] {
        var properties = properties
        properties["allow.auto.create.topics"] = nil  // a consumer property; meaningless here
        let client = try RDKafkaClient.make(.producer, properties: properties, context: CallbackContext(logger: logger))
        let result: Result<[String: Int], KafkaError> = await BlockingThread.run(name: "kafka-metadata") {
            defer { client.destroy() }
            return client.topicPartitionCounts(timeout: timeout)
        }
        return try result.get()
    }

    /// The partitions of `topic`; throws `UNKNOWN_TOPIC_OR_PART` naming the topic when it does
    /// not exist.
    public static func partitions(
        of topic: String,
        properties: KafkaProperties,
        timeout: Duration,
        logger: Logger
    ) async throws(KafkaError) -> [TopicPartition] {
        guard let count = try await topicPartitionCounts(properties: properties, timeout: timeout, logger: logger)[topic] else {
            throw .unknownTopicOrPartition("the topic '\(topic)' does not exist")
        }
        return (0..<Int32(count)).map { TopicPartition(topic: topic, partition: $0) }
    }

    /// The offsets `groupID` has committed for `partitions` (a negative value where none is
    /// committed). Reads them without joining the group, so a live pool is not rebalanced.
    public static func committedOffsets(
        properties: KafkaProperties,
        groupID: String,
        partitions: [TopicPartition],
        timeout: Duration,
        logger: Logger
    ) async throws(KafkaError) -> [TopicPartition: Int64] {
        var properties = properties
        properties["group.id"] = groupID
        let client = try RDKafkaClient.make(.consumer, properties: properties, context: CallbackContext(logger: logger))
        let result: Result<[TopicPartition: Int64], KafkaError> = await BlockingThread.run(name: "kafka-committed") {
            defer {
                client.closeConsumer()
                client.destroy()
            }
            return client.committedOffsets(of: partitions, timeout: timeout)
        }
        return try result.get()
    }
}
