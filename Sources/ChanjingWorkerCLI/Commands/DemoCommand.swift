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
    @Option(help: "Least simulated render time, seconds.") var minRenderSeconds: Double = 3
    @Option(help: "Most simulated render time, seconds.") var maxRenderSeconds: Double = 8
    @Option(help: "Share of simulated renders that fail (Error or Fail).") var renderFailureRate: Double = 0.1
    @Option(help: "Seconds to wait for every result and video before giving up.") var timeout: Double = 120
    @Option(help: "Log level of the worker's own log (standard error).") var logLevel: Logger.Level = .warning

    func validate() throws {
        guard minRenderSeconds > 0, maxRenderSeconds >= minRenderSeconds else { throw ValidationError("--max-render-seconds must be at least --min-render-seconds, both positive") }
        guard (0...1).contains(renderFailureRate), (0...1).contains(failureRate) else { throw ValidationError("rates are between 0 and 1") }
    }

    func run() async throws {
        LogSetup.bootstrap(level: logLevel)
        let logger = Logger(label: "demo")
        let requestsTopic = "chanjing.video.requests"
        let resultsTopic = "chanjing.video.results"
        // The simulator renders in seconds: look soon, and often.
        let tracking = TrackingSettings(firstCheck: .seconds(2), interval: .seconds(1))

        let cluster = try MockCluster(brokers: 1, logger: logger)
        try cluster.createTopic(requestsTopic, partitions: 3)
        try cluster.createTopic(resultsTopic, partitions: 3)
        try cluster.createTopic(LedgerSettings().topic, partitions: 3)
        try cluster.createTopic(tracking.topic, partitions: 3)
        try cluster.createTopic(WorkerConfiguration(brokers: "", chanjing: .init(baseURL: "")).coordinationTopic, partitions: 1)
        let simulator = ChanjingSimulator(
            configuration: SimulatorConfiguration(
                submitLatency: 0.1...max(0.1, maxLatencyMs / 1000), failureRate: failureRate, renderTime: minRenderSeconds...maxRenderSeconds,
                renderFailureRate: renderFailureRate
            )
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
            chanjing: .init(baseURL: server.baseURL),
            tracking: tracking
        )
        let credentials = ChanjingCredentials.app(appID: simulator.configuration.appID, secretKey: simulator.configuration.secretKey)
        let worker = try await WorkerRuntime(configuration: configuration, credentials: credentials, logger: logger)
        let workerTask = Task { try await worker.run() }

        let (results, completions) = try await collect(
            brokers: cluster.bootstrapServers, resultsTopic: resultsTopic, completionsTopic: tracking.topic, expected: DemoSamples.requests.count, logger: logger
        )
        await worker.shutdown()
        let workerOutcome = await workerTask.result
        await server.stop()
        await cluster.shutdown()

        printSummary(results, completions: completions, simulator: simulator)
        if case .failure(let error) = workerOutcome {
            printError("demo: the worker failed: \(error)")
            throw ExitCodes.failure
        }
        let submitted = results.values.filter { $0.status == .submitted }.count
        guard results.count == DemoSamples.requests.count, completions.count == submitted else {
            printError(
                "demo: only \(results.count) of \(DemoSamples.requests.count) results and \(completions.count) of \(submitted) completions arrived within \(timeout) s"
            )
            throw ExitCodes.failure
        }
    }

    /// Reads results and completions, printing each as it arrives, until every request has its
    /// result and every submitted one its completion, or the timeout passes.
    private func collect(
        brokers: String, resultsTopic: String, completionsTopic: String, expected: Int, logger: Logger
    ) async throws -> (results: [String: VideoResult], completions: [String: VideoCompletion]) {
        let properties = KafkaProperties(["bootstrap.servers": brokers])
        let resultsReader = try await TopicReader(topic: resultsTopic, from: .beginning, properties: properties, timeout: .seconds(10), logger: logger) {
            try? VideoResult.decode($0.value)
        }
        let completionsReader = try await TopicReader(topic: completionsTopic, from: .beginning, properties: properties, timeout: .seconds(10), logger: logger) {
            try? VideoCompletion.decode($0.value)
        }
        var results: [String: VideoResult] = [:]
        var completions: [String: VideoCompletion] = [:]
        var seenCompletions = 0
        var videosAnnounced = false
        await resultsReader.wait(within: .seconds(timeout)) { arrived in
            for result in arrived where results[result.requestID] == nil {
                results[result.requestID] = result
                print(Self.line(for: result))
            }
            let arrivedCompletions = completionsReader.records
            for completion in arrivedCompletions[seenCompletions...] where completions[completion.requestID] == nil {
                if !videosAnnounced {
                    print("\nVideos as the simulator finishes rendering them (the worker follows every task):\n")
                    videosAnnounced = true
                }
                completions[completion.requestID] = completion
                print(Self.line(for: completion))
            }
            seenCompletions = arrivedCompletions.count
            return results.count == expected && completions.count == results.values.filter { $0.status == .submitted }.count
        }
        await resultsReader.stop()
        await completionsReader.stop()
        return (results, completions)
    }

    static func line(for completion: VideoCompletion) -> String {
        let id = completion.requestID.padding(toLength: 34, withPad: " ", startingAt: 0)
        let status = completion.status.rawValue.padding(toLength: 10, withPad: " ", startingAt: 0)
        let rendered = String(format: "%.1f s", completion.renderSeconds)
        switch completion.status {
        case .succeeded:
            return "  \(status)\(id)\(completion.videoURLs.joined(separator: " "))  (\(rendered))"
        case .failed, .expired:
            let error = completion.error
            return "  \(status)\(id)\(error?.code.rawValue ?? ""): \(error?.chanjingMessage ?? error?.message ?? "")  (\(rendered))"
        }
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

    private func printSummary(_ results: [String: VideoResult], completions: [String: VideoCompletion], simulator: ChanjingSimulator) {
        let byStatus = Dictionary(grouping: results.values, by: \.status)
        let videos = Dictionary(grouping: completions.values, by: \.status)
        let stats = simulator.stats
        print(
            """

            Summary: \(results.count) results — \(byStatus[.submitted]?.count ?? 0) submitted, \
            \(byStatus[.rejected]?.count ?? 0) rejected, \(byStatus[.failed]?.count ?? 0) failed; \
            \(completions.count) completions — \(videos[.succeeded]?.count ?? 0) videos, \(videos[.failed]?.count ?? 0) failed renders.
            Simulator: \(stats.tasksCreated) tasks created, \(stats.submitCalls) submit calls \
            (\(stats.injectedFailures) answered 50000 and retried), \(stats.tokenFetches) token fetch(es), \
            \(stats.taskQueries) task queries.
            """
        )
    }
}
