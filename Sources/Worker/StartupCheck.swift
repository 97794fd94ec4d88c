import Kafka
import Ledger
import Logging

/// Verifies at start-up that the cluster answers and the topics exist, so a mistake is one
/// clear line instead of a worker that idles or auto-creates a topic; says how long the ledger
/// remembers.
enum StartupCheck {
    /// Returns the number of partitions of the requests topic. `coordinates` says whether the
    /// worker agrees on its token through the coordination topic (app credentials).
    static func verify(_ configuration: WorkerConfiguration, coordinates: Bool, logger: Logger) async throws(WorkerFailure) -> Int {
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
        var required = [("requests", configuration.requestsTopic), ("results", configuration.resultsTopic)]
        if let ledger = configuration.ledger { required.append(("ledger", ledger.topic)) }
        if coordinates { required.append(("coordination", configuration.coordinationTopic)) }
        if let tracking = configuration.tracking { required.append(("completions", tracking.topic)) }
        for (role, topic) in required {
            guard topics[topic] != nil else {
                throw .missingTopic(role: role, topic: topic, brokers: configuration.brokers)
            }
        }
        if let ledger = configuration.ledger, topics[ledger.topic] != topics[configuration.requestsTopic] {
            throw .ledgerTopicMismatch(
                "the ledger topic '\(ledger.topic)' has \(topics[ledger.topic]!) partitions but the requests topic '\(configuration.requestsTopic)' has \(topics[configuration.requestsTopic]!); they must be equal (ledger partition p describes requests partition p)"
            )
        }
        var metadata: Logger.Metadata = [
            "requests_topic": "\(configuration.requestsTopic) (\(topics[configuration.requestsTopic]!) partitions)",
            "results_topic": "\(configuration.resultsTopic) (\(topics[configuration.resultsTopic]!) partitions)",
        ]
        if let ledger = configuration.ledger { metadata["ledger_topic"] = "\(ledger.topic)" }
        if let tracking = configuration.tracking { metadata["completions_topic"] = "\(tracking.topic)" }
        if coordinates {
            metadata["coordination_topic"] = "\(configuration.coordinationTopic)"
            if let partitions = topics[configuration.coordinationTopic], partitions > 1 {
                logger.warning(
                    "The coordination topic has \(partitions) partitions; only partition 0 is used",
                    metadata: ["coordination_topic": "\(configuration.coordinationTopic)"]
                )
            }
        }
        logger.info("Kafka cluster reachable", metadata: metadata)
        if let ledger = configuration.ledger {
            await LedgerTopicCheck.run(
                ledgerTopic: ledger.topic, requestsTopic: configuration.requestsTopic,
                properties: configuration.commonProperties, timeout: configuration.startupTimeout, logger: logger
            )
        }
        return topics[configuration.requestsTopic]!
    }
}
