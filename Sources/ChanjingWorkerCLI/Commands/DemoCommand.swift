import ArgumentParser
import Chanjing
import ChanjingSimulator
import Foundation
import Kafka
import Logging
import VideoContract
import Worker

/// `chanjing-worker demo`: the whole pipeline on this machine, with nothing installed beyond the
/// package: an in-process Kafka mock cluster, the Chanjing simulator, sample requests, and the
/// real worker between them.
struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run the worker against an embedded Kafka mock cluster and Chanjing simulator."
    )

    @Option(help: "Share of submits the simulator answers with 50000 (the worker retries them).") var failureRate: Double = 0.2
    @Option(help: "Most simulated submit latency, milliseconds.") var maxLatencyMs: Double = 600
    @Option(help: "Seconds to wait for every result before giving up.") var timeout: Double = 90
    @Option(help: "Log level of the worker's own log (standard error).") var logLevel: Logger.Level = .warning

    func run() async throws {
        LogSetup.bootstrap(level: logLevel)
        let logger = Logger(label: "demo")
        let requestsTopic = "chanjing.video.requests"
        let resultsTopic = "chanjing.video.results"

        let cluster = try MockCluster(brokers: 1, logger: logger)
        try cluster.createTopic(requestsTopic, partitions: 3)
        try cluster.createTopic(resultsTopic, partitions: 3)
        try cluster.createTopic(LedgerSettings().topic, partitions: 3)
        try cluster.createTopic(WorkerConfiguration(brokers: "", chanjing: .init(baseURL: "")).coordinationTopic, partitions: 1)
        let simulator = ChanjingSimulator(
            configuration: SimulatorConfiguration(submitLatency: 0.1...max(0.1, maxLatencyMs / 1000), failureRate: failureRate)
        )
        let server = try await SimulatorServer.start(simulator, logger: logger)
        print("Kafka mock cluster: \(cluster.bootstrapServers)   Chanjing simulator: \(server.baseURL)")

        let producer = try KafkaProducer(properties: KafkaProperties(["bootstrap.servers": cluster.bootstrapServers]), logger: logger)
        for sample in DemoSamples.requests {
            try await producer.send(OutgoingMessage(topic: requestsTopic, key: sample.key.map { Array($0.utf8) }, value: Array(sample.json.utf8)))
        }
        await producer.shutdown()
        print("Produced \(DemoSamples.requests.count) requests to \(requestsTopic); results as they arrive:\n")

        let configuration = WorkerConfiguration(
            brokers: cluster.bootstrapServers,
            requestsTopic: requestsTopic,
            resultsTopic: resultsTopic,
            retry: RetryPolicy(maxAttempts: 5, maxElapsed: .seconds(30), initialBackoff: .milliseconds(200)),
            chanjing: .init(baseURL: server.baseURL)
        )
        let credentials = ChanjingCredentials.app(appID: simulator.configuration.appID, secretKey: simulator.configuration.secretKey)
        let worker = try await WorkerRuntime(configuration: configuration, credentials: credentials, logger: logger)
        let workerTask = Task { try await worker.run() }

        let results = try await collectResults(
            brokers: cluster.bootstrapServers, topic: resultsTopic, expected: DemoSamples.requests.count, logger: logger
        )
        await worker.shutdown()
        let workerOutcome = await workerTask.result
        await server.stop()
        await cluster.shutdown()

        printSummary(results, simulator: simulator)
        if case .failure(let error) = workerOutcome {
            printError("demo: the worker failed: \(error)")
            throw ExitCodes.failure
        }
        guard results.count == DemoSamples.requests.count else {
            printError("demo: only \(results.count) of \(DemoSamples.requests.count) results arrived within \(timeout) s")
            throw ExitCodes.failure
        }
    }

    /// Reads results until one per request has arrived or the timeout passes.
    private func collectResults(brokers: String, topic: String, expected: Int, logger: Logger) async throws -> [String: VideoResult] {
        let reader = try await TopicReader(
            topic: topic, from: .beginning, properties: KafkaProperties(["bootstrap.servers": brokers]), timeout: .seconds(10), logger: logger
        ) { try? VideoResult.decode($0.value) }
        var results: [String: VideoResult] = [:]
        var seen = 0
        await reader.wait(within: .seconds(timeout)) { arrived in
            for result in arrived[seen...] where results[result.requestID] == nil {
                results[result.requestID] = result
                print(Self.line(for: result))
            }
            seen = arrived.count
            return results.count == expected
        }
        await reader.stop()
        return results
    }

    static func line(for result: VideoResult) -> String {
        let id = result.requestID.padding(toLength: 34, withPad: " ", startingAt: 0)
        let status = result.status.rawValue.padding(toLength: 10, withPad: " ", startingAt: 0)
        switch result.status {
        case .submitted:
            let retries = result.retries.safe + result.retries.ambiguous
            return "  \(status)\(id)creation_id=\(result.creationID ?? "")  attempts=\(result.attempts)\(retries > 0 ? " (retried \(retries))" : "")"
        case .rejected, .failed:
            let error = result.error
            let field = error?.field.map { " [\($0)]" } ?? ""
            return "  \(status)\(id)\(error?.code.rawValue ?? "")\(field): \(error?.message ?? "")"
        }
    }

    private func printSummary(_ results: [String: VideoResult], simulator: ChanjingSimulator) {
        let byStatus = Dictionary(grouping: results.values, by: \.status)
        let stats = simulator.stats
        print(
            """

            Summary: \(results.count) results — \(byStatus[.submitted]?.count ?? 0) submitted, \
            \(byStatus[.rejected]?.count ?? 0) rejected, \(byStatus[.failed]?.count ?? 0) failed.
            Simulator: \(stats.tasksCreated) tasks created, \(stats.submitCalls) submit calls \
            (\(stats.injectedFailures) answered 50000 and retried), \(stats.tokenFetches) token fetch(es).
            """
        )
    }
}
