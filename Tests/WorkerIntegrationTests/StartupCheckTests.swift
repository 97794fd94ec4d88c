import Chanjing
import Foundation
import Kafka
import Testing
import TestSupport
import Worker

@Suite("Start-up checks", .serialized)
struct StartupCheckTests {
    /// The failure starting a worker with `configuration` ends in, if any.
    private func startupFailure(_ configuration: WorkerConfiguration, credentials: ChanjingCredentials = .accessToken("t")) async -> WorkerFailure? {
        do {
            let runtime = try await WorkerRuntime(configuration: configuration, credentials: credentials, logger: TestLogging.logger("worker"))
            await runtime.shutdown()
            try? await runtime.run()
            return nil
        } catch {
            return error
        }
    }

    @Test("a missing topic, a ledger that does not match the requests topic, an unreachable cluster: one clear line each", .timeLimit(.minutes(2)))
    func failures() async throws {
        let kafka = try KafkaTestCluster(partitions: 3)
        try kafka.cluster.createTopic("ledger-2", partitions: 2)
        try await kafka.run(within: 100) {
            let base = WorkerConfiguration(
                brokers: kafka.cluster.bootstrapServers, requestsTopic: kafka.requestsTopic, resultsTopic: kafka.resultsTopic,
                startupTimeout: .seconds(5), chanjing: .init(baseURL: "http://127.0.0.1:9"),
                ledger: LedgerSettings(topic: kafka.ledgerTopic)
            )

            var missingResults = base
            missingResults.resultsTopic = "no-such-results"
            let results = await startupFailure(missingResults)
            guard case .missingTopic(role: "results", topic: "no-such-results", _) = results else {
                Issue.record("expected the missing results topic, got \(String(describing: results))")
                return
            }

            var missingLedger = base
            missingLedger.ledger = LedgerSettings(topic: "no-such-ledger")
            let ledger = await startupFailure(missingLedger)
            #expect(ledger?.description.contains("ledger topic 'no-such-ledger' does not exist") == true, "\(String(describing: ledger))")
            #expect(ledger?.description.contains("--ledger off") == true)

            // App credentials need the coordination topic; a fixed token does not.
            var missingCoordination = base
            missingCoordination.coordinationTopic = "no-such-coordination"
            let coordination = await startupFailure(missingCoordination, credentials: .app(appID: "a", secretKey: "s"))
            #expect(coordination?.description.contains("coordination topic 'no-such-coordination' does not exist") == true, "\(String(describing: coordination))")
            #expect(coordination?.description.contains("one partition") == true)
            #expect(await startupFailure(missingCoordination) == nil)

            // Tracking needs the completions topic, and the ledger that holds the tasks it follows.
            var missingCompletions = base
            missingCompletions.tracking = TrackingSettings(topic: "no-such-completions")
            let completions = await startupFailure(missingCompletions)
            #expect(completions?.description.contains("completions topic 'no-such-completions' does not exist") == true, "\(String(describing: completions))")
            #expect(completions?.description.contains("--track off") == true)
            var trackingWithoutLedger = base
            (trackingWithoutLedger.ledger, trackingWithoutLedger.tracking) = (nil, TrackingSettings(topic: kafka.completionsTopic))
            let withoutLedger = await startupFailure(trackingWithoutLedger)
            #expect(withoutLedger?.isConfiguration == true && withoutLedger?.description.contains("--track off") == true, "\(String(describing: withoutLedger))")

            var mismatched = base
            mismatched.ledger = LedgerSettings(topic: "ledger-2")
            let mismatch = await startupFailure(mismatched)
            guard case .ledgerTopicMismatch(let line) = mismatch else {
                Issue.record("expected a partition mismatch, got \(String(describing: mismatch))")
                return
            }
            #expect(line.contains("2 partitions") && line.contains("3"), "\(line)")

            var unreachable = base
            unreachable.brokers = "127.0.0.1:1"
            unreachable.startupTimeout = .seconds(2)
            let down = await startupFailure(unreachable)
            guard case .kafkaUnreachable = down else {
                Issue.record("expected an unreachable cluster, got \(String(describing: down))")
                return
            }
            #expect(down.map { !$0.description.contains("\n") } == true)
        }
    }

    @Test("the binary exits 69 with one line when a topic is missing", .timeLimit(.minutes(1)))
    func exitCode() async throws {
        let kafka = try KafkaTestCluster(partitions: 1)
        try await kafka.run(within: 50) {
            let process = try WorkerProcess(
                arguments: ["run"],
                environment: [
                    "KAFKA_BROKERS": kafka.cluster.bootstrapServers, "REQUESTS_TOPIC": kafka.requestsTopic, "RESULTS_TOPIC": kafka.resultsTopic,
                    "LEDGER_TOPIC": "absent-ledger", "CHANJING_ACCESS_TOKEN": "t", "HTTP_PORT": "0", "LOG_LEVEL": "critical",
                ]
            )
            let (status, output) = await process.waitForExit(within: 40)
            #expect(status == 69, "\(output)")
            #expect(output.contains("ledger topic 'absent-ledger' does not exist"), "\(output)")
        }
    }

    @Test("a taken --http-port stops start-up before the worker joins its group: exit 78 and one line naming the option", .timeLimit(.minutes(1)))
    func httpPortTaken() async throws {
        let harness = try await WorkerHarness(partitions: 1)
        try await harness.run(within: 50, "port taken") {
            var configuration = harness.configuration
            configuration.httpPort = 0
            let (first, running) = try await harness.startWorker(configuration)
            let port = try #require(await first.httpPort())

            configuration.httpPort = port
            do {
                _ = try await WorkerRuntime(configuration: configuration, credentials: .accessToken("t"), logger: TestLogging.logger())
                Issue.record("a second worker started on a taken port")
            } catch {
                guard case .httpPortInUse(let taken, _)? = error as? WorkerFailure, taken == port else { throw error }
            }
            let process = try WorkerProcess(
                arguments: ["run"],
                environment: [
                    "KAFKA_BROKERS": harness.kafka.cluster.bootstrapServers, "REQUESTS_TOPIC": harness.kafka.requestsTopic,
                    "RESULTS_TOPIC": harness.kafka.resultsTopic, "LEDGER_TOPIC": harness.kafka.ledgerTopic, "KAFKA_GROUP_ID": harness.group,
                    "CHANJING_ACCESS_TOKEN": "t", "HTTP_PORT": "\(port)", "LOG_LEVEL": "critical",
                ]
            )
            let (status, output) = await process.waitForExit(within: 40)
            #expect(status == 78, "\(output)")
            #expect(output.contains("--http-port (HTTP_PORT)") && output.split(separator: "\n").count == 1, "\(output)")
            await first.shutdown()
            try await running.value
        }
    }
}
