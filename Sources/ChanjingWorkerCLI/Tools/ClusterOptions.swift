import ArgumentParser
import Foundation
import Kafka
import Logging

/// The cluster settings shared by the operator tools (`lag`, `enqueue`, `replay`). Like
/// `run`, each falls back to the worker's environment variable, so the tools work inside a
/// worker's container unchanged.
struct ClusterOptions: ParsableArguments {
    @Option(name: .customLong("brokers"), help: "Kafka bootstrap servers (env KAFKA_BROKERS, default localhost:9092).")
    var brokers: String?
    @Option(name: .customLong("kafka"), help: "A librdkafka property as key=value, repeatable (env KAFKA_PROP_<NAME>), e.g. security settings.")
    var kafka: [String] = []
    @Option(name: .customLong("timeout"), help: "Seconds each broker call may take.")
    var timeout: Double = 10

    /// The client properties, with the brokers; a bad setting is one line for the operator.
    func properties(environment: [String: String] = ProcessInfo.processInfo.environment) throws(ConfigurationError) -> KafkaProperties {
        var properties = try ConfigurationResolver.kafkaProperties(environment: environment, flags: kafka)
        properties["bootstrap.servers"] = ConfigurationResolver.value("--brokers", given: brokers, environment: environment)
        return properties
    }

    var callTimeout: Duration { .milliseconds(Int64(max(0.1, timeout) * 1000)) }
}

/// A setting of a tool that `run` has too (`--group`, `--requests-topic` …): the tool's flag,
/// else `run`'s environment variable, else `run`'s default.
func setting(_ flag: String, given: String?) -> String {
    ConfigurationResolver.value(flag, given: given, environment: ProcessInfo.processInfo.environment)
}

/// Produces `messages` in order with `acks=all` and idempotence (which keeps each partition's
/// order while many records share a round trip), waits until all are acknowledged, then closes
/// the producer.
func produceAcknowledged(_ messages: [OutgoingMessage], properties: KafkaProperties, logger: Logger) async throws(KafkaError) {
    let producer = try KafkaProducer(properties: properties.merging(KafkaProperties(["enable.idempotence": "true", "acks": "all"])), logger: logger)
    do {
        try await producer.sendAll(messages)
    } catch {
        await producer.shutdown()
        throw error
    }
    await producer.shutdown()
}

/// Runs a tool's body, turning configuration and Kafka errors into one line and the exit codes
/// `run` uses (78 configuration, 69 cluster unavailable or topic missing).
func runTool(_ name: String, _ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as ConfigurationError {
        printError("chanjing-worker \(name): configuration error: \(error)")
        throw ExitCodes.configuration
    } catch let error as KafkaError {
        printError("chanjing-worker \(name): \(error)")
        throw ExitCodes.unavailable
    }
}
