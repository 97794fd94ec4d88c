import ArgumentParser
import Kafka
import Logging
import ServiceLifecycle
import UnixSignals

/// `chanjing-worker mock-kafka`: librdkafka's mock cluster as a stand-alone broker, for the
/// worker, `kcat` or any other client on this machine. All data is lost when it stops.
struct MockKafkaCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mock-kafka",
        abstract: "Run an in-memory Kafka-protocol broker (librdkafka's mock cluster) and print its bootstrap address."
    )

    @Option(help: "Number of brokers.") var brokers = 1
    @Option(name: .customLong("topic"), help: "A topic to create, as name:partitions (repeatable).")
    var topics: [String] = [
        "chanjing.video.requests:3", "chanjing.video.results:3", "chanjing.video.ledger:3", "chanjing.video.completions:3", "chanjing.video.coordination:1",
    ]
    @Option(help: "Log level.") var logLevel: Logger.Level = .warning

    func run() async throws {
        LogSetup.bootstrap(level: logLevel)
        let logger = Logger(label: "mock-kafka")
        let cluster = try MockCluster(brokers: brokers, logger: logger)
        for spec in topics {
            let parts = spec.split(separator: ":")
            guard parts.count == 2, let partitions = Int(parts[1]), partitions > 0 else {
                await cluster.shutdown()
                throw ValidationError("--topic expects name:partitions, got '\(spec)'")
            }
            try cluster.createTopic(String(parts[0]), partitions: partitions)
        }
        printLine(cluster.bootstrapServers)
        let group = ServiceGroup(configuration: .init(services: [UntilShutdown()], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        await cluster.shutdown()
    }
}

/// A service that does nothing until a graceful shutdown is requested.
struct UntilShutdown: Service {
    func run() async throws {
        try? await gracefulShutdown()
    }
}
