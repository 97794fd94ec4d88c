import Chanjing
import ChanjingSimulator
import Foundation
import Logging
import Kafka
import VideoContract
import Worker

/// A mock cluster, a simulator, and workers run against them in-process or as child processes.
/// `run(within:_:_:)` stops what it started, whether the test passed or not.
public final class WorkerHarness: Sendable {
    public let kafka: KafkaTestCluster
    public let simulator: ChanjingSimulator
    public let server: RunningSimulator
    public let group = "workers"

    public init(partitions: Int = 3, brokers: Int = 1, simulator configuration: SimulatorConfiguration = SimulatorConfiguration()) async throws {
        kafka = try KafkaTestCluster(partitions: partitions, brokers: brokers, replicationFactor: brokers)
        simulator = ChanjingSimulator(configuration: configuration)
        server = try await SimulatorServer.start(simulator, logger: TestLogging.logger())
    }

    /// A worker configuration for this harness (the group, topics and simulator), with short
    /// timeouts.
    public var configuration: WorkerConfiguration {
        WorkerConfiguration(
            brokers: kafka.cluster.bootstrapServers,
            groupID: group,
            requestsTopic: kafka.requestsTopic,
            resultsTopic: kafka.resultsTopic,
            coordinationTopic: kafka.coordinationTopic,
            kafkaProperties: KafkaProperties(["session.timeout.ms": "6000", "message.timeout.ms": "20000"]),
            commitInterval: .milliseconds(200),
            drainTimeout: .seconds(10),
            retry: RetryPolicy(maxAttempts: 5, maxElapsed: .seconds(20), initialBackoff: .milliseconds(20), maxBackoff: .milliseconds(200)),
            chanjing: .init(baseURL: server.baseURL, requestTimeout: .seconds(8)),
            ledger: LedgerSettings(topic: kafka.ledgerTopic, reconcileDelay: .seconds(1), clockSkew: .seconds(5))
        )
    }

    /// ``configuration`` with tasks followed to the harness's completions topic: first read a
    /// second after their submit, then every second, for at most `maxTrackTime`.
    public func configuration(followingTasksFor maxTrackTime: Duration) -> WorkerConfiguration {
        var configuration = self.configuration
        configuration.tracking = TrackingSettings(topic: kafka.completionsTopic, firstCheck: .seconds(1), interval: .seconds(1), maxTrackTime: maxTrackTime)
        return configuration
    }

    /// Starts an in-process worker; returns it and the task running it.
    public func startWorker(
        _ configuration: WorkerConfiguration? = nil,
        credentials: ChanjingCredentials = .app(appID: "sim-app", secretKey: "sim-secret"),
        logger: Logger = TestLogging.logger("worker")
    ) async throws -> (WorkerRuntime, Task<Void, any Error>) {
        let runtime = try await WorkerRuntime(
            configuration: configuration ?? self.configuration,
            credentials: credentials,
            logger: logger
        )
        return (runtime, Task { try await runtime.run() })
    }

    /// A token issued by the simulator, for workers that share one (as a pool sharing a token
    /// file does): workers with their own app credentials would invalidate each other's tokens.
    public func sharedToken() throws -> ChanjingCredentials {
        let reply = simulator.accessToken(body: Array(#"{"app_id":"sim-app","secret_key":"sim-secret"}"#.utf8))
        let json = try JSONSerialization.jsonObject(with: reply.body) as? [String: Any]
        let token = (json?["data"] as? [String: Any])?["access_token"] as? String
        return .accessToken(token ?? "")
    }

    /// Starts `chanjing-worker run` as a child process against this harness.
    public func startWorkerProcess(extraEnvironment: [String: String] = [:]) throws -> WorkerProcess {
        var environment = [
            "KAFKA_BROKERS": kafka.cluster.bootstrapServers,
            "KAFKA_GROUP_ID": group,
            "REQUESTS_TOPIC": kafka.requestsTopic,
            "RESULTS_TOPIC": kafka.resultsTopic,
            "COORDINATION_TOPIC": kafka.coordinationTopic,
            "COMPLETIONS_TOPIC": kafka.completionsTopic,
            "CHANJING_BASE_URL": server.baseURL,
            "CHANJING_APP_ID": "sim-app",
            "CHANJING_SECRET_KEY": "sim-secret",
            "KAFKA_PROP_SESSION_TIMEOUT_MS": "6000",
            "KAFKA_PROP_MESSAGE_TIMEOUT_MS": "20000",
            "COMMIT_INTERVAL": "0.2",
            "HTTP_PORT": "0",
            "LEDGER_TOPIC": kafka.ledgerTopic,
            "DRAIN_TIMEOUT": "10",
            "CHANJING_SUBMIT_TIMEOUT": "4",
            "LOG_LEVEL": "warning",
        ]
        environment.merge(extraEnvironment) { $1 }
        return try WorkerProcess(arguments: ["run"], environment: environment)
    }

    /// Results read so far (from the beginning of the results topic), decoded.
    public func results(atLeast count: Int, within seconds: Double = 40, settle: Duration = .zero) async throws -> [(KafkaMessage, VideoResult)] {
        try await kafka.readResults(atLeast: count, within: seconds, settle: settle).map { ($0, try VideoResult.decode($0.value)) }
    }

    /// Results read until `requests` distinct `request_id`s have one (redeliveries add results,
    /// so a count of records is not enough), or `seconds` passed.
    public func results(forEvery requests: Int, within seconds: Double, settle: Duration = .zero) async throws -> [(KafkaMessage, VideoResult)] {
        let deadline = ContinuousClock.now + .seconds(seconds)
        var results = try await self.results(atLeast: requests, within: seconds, settle: settle)
        while case let missing = requests - Set(results.map(\.1.requestID)).count, missing > 0, ContinuousClock.now < deadline {
            results = try await self.results(atLeast: results.count + missing, within: min(30, (deadline - .now) / .seconds(1)), settle: settle)
        }
        return results
    }

    /// Completions read until `requests` distinct `request_id`s have one, or `seconds` passed.
    public func completions(forEvery requests: Int, within seconds: Double, settle: Duration = .zero) async throws -> [(KafkaMessage, VideoCompletion)] {
        let deadline = ContinuousClock.now + .seconds(seconds)
        var read: [(KafkaMessage, VideoCompletion)] = []
        repeat {
            let wanted = read.count + requests - Set(read.map(\.1.requestID)).count
            read = try await kafka.read(kafka.completionsTopic, atLeast: wanted, within: max(1, min(30, (deadline - .now) / .seconds(1))), settle: settle)
                .map { ($0, try VideoCompletion.decode($0.value)) }
        } while Set(read.map(\.1.requestID)).count < requests && ContinuousClock.now < deadline
        return read
    }

    /// Runs `body` within `seconds`, then shuts the harness down, whether the body passed or not.
    @discardableResult
    public func run<T: Sendable>(within seconds: Double, _ what: String, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        try await withTimeout(seconds, what, thenStop: shutdown, body)
    }

    public func shutdown() async {
        _ = try? await withTimeout(20, "simulator shutdown") { [server] in await server.stop() }
        await kafka.shutdown()
    }
}

/// Request JSON for tests.
public func requestJSON(id: String, prompt: String? = nil, extra: String = "") -> String {
    #"{"request_id":"\#(id)","ref_prompt":"\#(prompt ?? "prompt for \(id)")"\#(extra)}"#
}
