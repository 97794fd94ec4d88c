import Logging

extension ClusterInspector {
    /// The configuration of each of `topics` (every entry the broker reports, defaults
    /// included), by topic name.
    ///
    /// Asked of one broker named by the cluster's metadata rather than of the controller:
    /// any broker answers for a topic, and a cluster whose metadata names no controller (the
    /// mock cluster's) then fails at once (`_UNSUPPORTED_FEATURE`) instead of after `timeout`.
    /// Throws the first error, including a per-topic one such as `TOPIC_AUTHORIZATION_FAILED`
    /// (the principal lacks the `DescribeConfigs` ACL).
    public static func topicConfigurations(
        _ topics: [String],
        properties: KafkaProperties,
        timeout: Duration,
        logger: Logger
    ) async throws(KafkaError) -> [String: [String: String]] {
        var properties = properties
        properties["allow.auto.create.topics"] = nil
        let client = try RDKafkaClient.make(.producer, properties: properties, context: CallbackContext(logger: logger))
        let answer: Result<[String: [String: String]], KafkaError>? = await BlockingThread.run(
            name: "kafka-configs", deadline: timeout, whenAbandoned: { client.destroy() }
        ) {
            RDKafkaAdmin.describeTopicConfigs(topics, client: client, timeout: timeout)
        }
        guard let answer else {
            // The abandoned call still uses the client: it is destroyed once the call returns.
            throw .timedOut("no answer for the configuration of \(topics.joined(separator: ", ")) within \(timeout)")
        }
        await BlockingThread.run(name: "kafka-destroy") { client.destroy() }
        return try answer.get()
    }
}
