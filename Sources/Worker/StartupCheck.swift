import Kafka
import Logging

/// Verifies at start-up that the cluster answers and both topics exist, so a mistake is one
/// clear line instead of a worker that idles or auto-creates a topic.
enum StartupCheck {
    /// Returns the number of partitions of the requests topic.
    static func verify(_ configuration: WorkerConfiguration, logger: Logger) async throws(WorkerFailure) -> Int {
        let topics: [String: Int]
        do {
            topics = try await ClusterInspector.topicPartitionCounts(
                properties: configuration.commonProperties, timeout: configuration.startupTimeout, logger: logger
            )
        } catch {
            if error.isUnreachable {
                throw .kafkaUnreachable(brokers: configuration.brokers, timeout: configuration.startupTimeout, error)
            }
            throw .kafkaClient(error)
        }
        for (role, topic) in [("requests", configuration.requestsTopic), ("results", configuration.resultsTopic)] {
            guard topics[topic] != nil else {
                throw .missingTopic(role: role, topic: topic, brokers: configuration.brokers)
            }
        }
        logger.info(
            "Kafka cluster reachable",
            metadata: [
                "requests_topic": "\(configuration.requestsTopic) (\(topics[configuration.requestsTopic]!) partitions)",
                "results_topic": "\(configuration.resultsTopic) (\(topics[configuration.resultsTopic]!) partitions)",
            ]
        )
        return topics[configuration.requestsTopic]!
    }
}
