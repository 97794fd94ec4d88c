import Chanjing
import ChanjingSimulator
import Foundation
import Kafka
import Testing
import TestSupport
import VideoContract
import Worker

/// End-to-end runs of the worker against the mock cluster and the simulator. Kafka suites run
/// one at a time, each test under a time limit.
@Suite("Worker pipeline end to end", .serialized)
struct WorkerPipelineTests {
    @Test("N requests give N results with the simulator's creation IDs; invalid ones never reach it", .timeLimit(.minutes(2)))
    func requestsToResults() async throws {
        let harness = try await WorkerHarness(simulator: SimulatorConfiguration(submitLatency: 0...0.05))
        try await harness.run(within: 100, "requestsToResults") {
            let valid = (0..<30).map { requestJSON(id: "v-\($0)") }
            let invalid = [
                #"{"request_id":"bad-1","ref_prompt":"x","video_duration":"5"}"#,
                #"{"request_id":"bad-2","ref_prompt":"x","video_durration":5}"#,
                #"{"request_id":"bad-3","ref_prompt":"  "}"#,
                #"{"request_id":"bad-4"}"#,
                "not json",
                #"{"request_id":"bad-6","ref_prompt":"x","ref_img_url":["ftp://h/a"]}"#,
            ]
            let values = valid + invalid
            try await harness.kafka.produce(
                values, keys: values.indices.map { "key-\($0)" }, headers: [KafkaHeader(name: "traceparent", text: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")]
            )
            let (worker, run) = try await harness.startWorker()
            let results = try await harness.results(atLeast: values.count)
            await worker.shutdown()
            try await run.value

            #expect(results.count == values.count)
            let byID = Dictionary(results.map { ($0.1.requestID, $0) }, uniquingKeysWith: { first, _ in first })
            #expect(byID.count == values.count)
            let tasks = Dictionary(uniqueKeysWithValues: harness.simulator.tasks.map { ($0.uniqueID, $0) })
            for index in 0..<30 {
                let (message, result) = try #require(byID["v-\(index)"])
                #expect(result.status == .submitted)
                let creationID = try #require(result.creationID)
                #expect(tasks[creationID]?.prompt == "prompt for v-\(index)")
                #expect(message.key == Array("key-\(index)".utf8))
                #expect(message.headers.first?.name == "traceparent")
                #expect(result.chanjingTraceID != nil)
            }
            #expect(Set(results.filter { $0.1.status == .rejected }.map(\.1.error!.code)) == [.invalidField, .unknownField, .missingField, .invalidJSON])
            #expect(results.filter { $0.1.status == .rejected }.count == invalid.count)
            #expect(harness.simulator.stats.submitCalls == 30)
            #expect(harness.simulator.tasks.count == 30)
            #expect(harness.simulator.stats.tokenFetches == 1)
            let committed = try await harness.kafka.committedOffsets(group: harness.group)
            #expect(committed.values.reduce(0) { $0 + max(0, $1) } == Int64(values.count))
        }
    }

    @Test("a request finishing out of order never lets the committed offset pass it", .timeLimit(.minutes(2)))
    func outOfOrder() async throws {
        let slow = SimulatorConfiguration(latencyForPrompt: { $0 == "slow" ? 4 : 0 })
        let harness = try await WorkerHarness(partitions: 1, simulator: slow)
        try await harness.run(within: 100, "outOfOrder") {
            try await harness.kafka.produce([requestJSON(id: "r-0", prompt: "slow")] + (1..<10).map { requestJSON(id: "r-\($0)") })
            let (worker, run) = try await harness.startWorker()
            let early = try await harness.results(atLeast: 9)
            #expect(!early.contains { $0.1.requestID == "r-0" })
            try await Task.sleep(for: .milliseconds(600))  // several commit intervals
            let whileSlow = try await harness.kafka.committedOffsets(group: harness.group)
            #expect((whileSlow[0] ?? -1) <= 0, "committed \(String(describing: whileSlow[0])) while offset 0 is unfinished")
            _ = try await harness.results(atLeast: 10)
            try await eventually(10, "offset 10 committed") {
                try await harness.kafka.committedOffsets(group: harness.group)[0] == 10
            }
            await worker.shutdown()
            try await run.value
        }
    }

    @Test("a worker restarted after committing does not reprocess", .timeLimit(.minutes(2)))
    func restartAfterCommit() async throws {
        let harness = try await WorkerHarness()
        try await harness.run(within: 100, "restartAfterCommit") {
            try await harness.kafka.produce((0..<10).map { requestJSON(id: "a-\($0)") })
            let (first, firstRun) = try await harness.startWorker()
            _ = try await harness.results(atLeast: 10)
            await first.shutdown()
            try await firstRun.value

            let (second, secondRun) = try await harness.startWorker()
            try await harness.kafka.produce([requestJSON(id: "after-restart")])
            let results = try await harness.results(atLeast: 11)
            try await Task.sleep(for: .seconds(1))
            await second.shutdown()
            try await secondRun.value
            #expect(results.count == 11)
            #expect(results.last?.1.requestID == "after-restart" || results.contains { $0.1.requestID == "after-restart" })
            #expect(harness.simulator.stats.submitCalls == 11)
        }
    }

    @Test("a worker killed before committing is followed by one that redelivers; SIGTERM exits 0 after committing", .timeLimit(.minutes(2)))
    func crashAndRedelivery() async throws {
        let harness = try await WorkerHarness()
        try await harness.run(within: 110, "crashAndRedelivery") {
            try await harness.kafka.produce((0..<10).map { requestJSON(id: "c-\($0)") })
            // Commits only every hour: everything it does stays uncommitted when it dies.
            let doomed = try harness.startWorkerProcess(extraEnvironment: ["COMMIT_INTERVAL": "3600"])
            defer { doomed.signal(SIGKILL) }
            _ = try await harness.results(atLeast: 10)
            doomed.signal(SIGKILL)
            _ = await doomed.waitForExit(within: 10)
            let afterCrash = try await harness.kafka.committedOffsets(group: harness.group)
            #expect(afterCrash.values.allSatisfy { $0 < 0 }, "\(afterCrash)")

            let successor = try harness.startWorkerProcess()
            defer { successor.signal(SIGKILL) }  // a no-op once it has exited
            let results = try await harness.results(atLeast: 20, within: 60)
            let perRequest = Dictionary(grouping: results, by: \.1.requestID).mapValues(\.count)
            #expect(perRequest.count == 10)
            #expect(perRequest.values.allSatisfy { $0 == 2 }, "\(perRequest)")
            try await eventually(10, "all offsets committed") {
                // Partitions that received nothing have no committed offset (a negative value).
                try await harness.kafka.committedOffsets(group: harness.group).values.reduce(0) { $0 + max(0, $1) } == 10
            }
            successor.signal(SIGTERM)
            let (status, output) = await successor.waitForExit(within: 30)
            #expect(status == 0, "\(output)")
        }
    }
}

@Suite("Worker concurrency end to end", .serialized)
struct WorkerConcurrencyTests {
    @Test("with random latencies and many in flight, every request gets exactly its own result", .timeLimit(.minutes(2)))
    func randomLatencies() async throws {
        let harness = try await WorkerHarness(simulator: SimulatorConfiguration(submitLatency: 0...0.2))
        try await harness.run(within: 100, "randomLatencies") {
            let count = 300
            try await harness.kafka.produce((0..<count).map { requestJSON(id: "q-\($0)") })
            var configuration = harness.configuration
            configuration.maxInFlight = 48
            let (worker, run) = try await harness.startWorker(configuration)
            let results = try await harness.results(atLeast: count, within: 60)
            try await eventually(10, "all offsets committed") {
                try await harness.kafka.committedOffsets(group: harness.group).values.reduce(0) { $0 + max(0, $1) } == Int64(count)
            }
            await worker.shutdown()
            try await run.value

            #expect(results.count == count)
            let tasks = Dictionary(uniqueKeysWithValues: harness.simulator.tasks.map { ($0.uniqueID, $0.prompt) })
            #expect(tasks.count == count)
            for (message, result) in results {
                #expect(result.status == .submitted)
                #expect(tasks[result.creationID ?? ""] == "prompt for \(result.requestID)")
                #expect(message.headers.contains { $0.name == "chanjing-worker-consumed-at" })
            }
            #expect(Set(results.map(\.1.requestID)).count == count)
            // The cap holds, and it is what limits: 300 requests of up to 0.2 s fill it.
            let peak = harness.simulator.stats.peakConcurrentSubmits
            #expect(peak <= 48)
            #expect(peak >= 24)
        }
    }

    @Test("--ordering key submits same-key requests in order, one at a time", .timeLimit(.minutes(2)))
    func keyOrdering() async throws {
        let harness = try await WorkerHarness(partitions: 2, simulator: SimulatorConfiguration(submitLatency: 0...0.05))
        try await harness.run(within: 100, "keyOrdering") {
            let keys = ["k0", "k1", "k2", "k3"]
            var values: [String] = []
            var messageKeys: [String?] = []
            for index in 0..<10 {
                for key in keys {
                    values.append(requestJSON(id: "\(key)-\(index)"))
                    messageKeys.append(key)
                }
            }
            try await harness.kafka.produce(values, keys: messageKeys)
            var configuration = harness.configuration
            configuration.ordering = .key
            let (worker, run) = try await harness.startWorker(configuration)
            _ = try await harness.results(atLeast: values.count, within: 60)
            await worker.shutdown()
            try await run.value

            // Tasks are recorded when created: per key they must appear in request order.
            let prompts = harness.simulator.tasks.map(\.prompt)
            for key in keys {
                let order = prompts.filter { $0.hasPrefix("prompt for \(key)-") }
                #expect(order == (0..<10).map { "prompt for \(key)-\($0)" })
            }
        }
    }
}

@Suite("Hostile input end to end", .serialized)
struct HostileInputEndToEndTests {
    @Test("every hostile request, and one over the size limit, yields a rejected result and is never submitted", .timeLimit(.minutes(2)))
    func hostileRequests() async throws {
        let harness = try await WorkerHarness()
        try await harness.run(within: 100, "hostileRequests") {
            let seeds = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../Fuzz/seeds")
            let names = try FileManager.default.contentsOfDirectory(atPath: seeds.path).filter { $0.hasPrefix("hostile-") }
            #expect(names.count >= 40)
            var values = try names.map { try [UInt8](Data(contentsOf: seeds.appendingPathComponent($0))) }
            // Over the 1 MiB limit: the producer's message.max.bytes is raised to send it.
            values.append(Array(#"{"ref_prompt":""#.utf8) + [UInt8](repeating: UInt8(ascii: "a"), count: 1_048_576) + Array(#""}"#.utf8))
            let producer = try KafkaProducer(
                properties: harness.kafka.clientProperties.merging(KafkaProperties(["message.max.bytes": "4000000"])), logger: TestLogging.logger()
            )
            for value in values {
                try await producer.send(OutgoingMessage(topic: harness.kafka.requestsTopic, key: nil, value: value))
            }
            await producer.shutdown()

            let (worker, run) = try await harness.startWorker()
            let results = try await harness.results(atLeast: values.count, within: 60)
            await worker.shutdown()
            try await run.value
            #expect(results.count == values.count)
            #expect(results.allSatisfy { $0.1.status == .rejected && $0.1.error != nil && $0.1.attempts == 0 })
            #expect(results.contains { $0.1.error?.code == .tooLarge })
            #expect(harness.simulator.stats.submitCalls == 0)
            #expect(harness.simulator.stats.tokenFetches == 0)
        }
    }
}

@Suite("Secrets end to end", .serialized)
struct SecretsEndToEndTests {
    @Test("secret key, access tokens and SASL passwords never reach logs (any level) or results", .timeLimit(.minutes(2)))
    func noSecretsLeak() async throws {
        let secretKey = "SECRET-KEY-4f1b2c9e"
        let saslPassword = "SASL-PASSWORD-77aa01"
        let harness = try await WorkerHarness(simulator: SimulatorConfiguration(secretKey: secretKey, failureRate: 0.3))
        let sink = LogSink()
        try await harness.run(within: 100, "noSecretsLeak") {
            try await harness.kafka.produce((0..<20).map { requestJSON(id: "s-\($0)") } + ["not json"])
            var configuration = harness.configuration
            // Set but unused on a plaintext cluster: librdkafka must not echo it either.
            configuration.kafkaProperties["sasl.password"] = saslPassword
            let runtime = try await WorkerRuntime(
                configuration: configuration,
                credentials: .app(appID: "sim-app", secretKey: secretKey),
                logger: TestLogging.capturing(sink, level: .trace)
            )
            let run = Task { try await runtime.run() }
            _ = try await harness.results(atLeast: 5, within: 30)
            // Another process fetching a token invalidates ours: the 10400 path runs too.
            _ = harness.simulator.accessToken(body: Array(#"{"app_id":"sim-app","secret_key":"\#(secretKey)"}"#.utf8))
            let results = try await harness.results(atLeast: 21, within: 60)
            await runtime.shutdown()
            try await run.value

            let tokens = harness.simulator.issuedTokens
            #expect(tokens.count >= 2)
            let secrets = [secretKey, saslPassword] + tokens
            let logs = sink.all
            #expect(logs.count > 50)
            for secret in secrets {
                #expect(!logs.contains { $0.contains(secret) }, "a log line holds a secret")
                #expect(!results.contains { String(decoding: $0.0.value, as: UTF8.self).contains(secret) }, "a result holds a secret")
            }
        }
    }
}

@Suite("Chanjing outages end to end", .serialized)
struct OutageEndToEndTests {
    @Test("an exhausted balance opens the circuit: nothing fails or is committed, and work resumes once topped up", .timeLimit(.minutes(2)))
    func balanceRecovery() async throws {
        let harness = try await WorkerHarness(partitions: 1, simulator: SimulatorConfiguration(balance: 5))
        try await harness.run(within: 100, "balanceRecovery") {
            try await harness.kafka.produce((0..<20).map { requestJSON(id: "b-\($0)") })
            let (worker, run) = try await harness.startWorker()
            _ = try await harness.results(atLeast: 5, within: 30)
            try await eventually(10, "the balance to run out") { harness.simulator.stats.balanceRefusals > 0 }
            try await Task.sleep(for: .seconds(2))
            let during = try await harness.results(atLeast: 6, within: 6)  // waits it out: only 5 exist
            #expect(during.count == 5, "only the paid-for requests have results")
            #expect((try await harness.kafka.committedOffsets(group: harness.group)[0] ?? -1) <= 5)

            harness.simulator.configure { $0.balance = nil }
            let results = try await harness.results(atLeast: 20, within: 60)
            await worker.shutdown()
            try await run.value
            #expect(results.count == 20)
            #expect(results.allSatisfy { $0.1.status == .submitted })
            #expect(try await harness.kafka.committedOffsets(group: harness.group)[0] == 20)
        }
    }

    @Test("a graceful shutdown while every slot waits for an open circuit ends within the drain timeout, nothing committed past the paid requests", .timeLimit(.minutes(2)))
    func shutdownWhileCircuitOpen() async throws {
        let harness = try await WorkerHarness(partitions: 1, simulator: SimulatorConfiguration(balance: 2))
        try await harness.run(within: 100, "shutdownWhileCircuitOpen") {
            try await harness.kafka.produce((0..<20).map { requestJSON(id: "s-\($0)") })
            var configuration = harness.configuration
            configuration.maxInFlight = 4
            configuration.drainTimeout = .seconds(3)
            let (worker, run) = try await harness.startWorker(configuration)
            _ = try await harness.results(atLeast: 2, within: 30)
            try await eventually(10, "the balance to run out") { harness.simulator.stats.balanceRefusals > 0 }
            // The consume loop waits for one of the 4 slots, all held by requests waiting for the circuit.
            try await Task.sleep(for: .seconds(1))
            let started = ContinuousClock.now
            await worker.shutdown()
            try await withTimeout(30, "the worker to stop") { try await run.value }
            #expect(ContinuousClock.now - started < .seconds(15), "stopped after \(ContinuousClock.now - started)")
            #expect(try await harness.results(atLeast: 3, within: 2).count == 2, "only the paid-for requests have results")
            #expect((try await harness.kafka.committedOffsets(group: harness.group)[0] ?? -1) <= 2)
        }
    }
}

@Suite("Chanjing faults end to end", .serialized)
struct ChanjingFaultTests {
    @Test("HTTP 500/502, non-JSON answers, hangs, 50000, 40001 bursts and expiring tokens: every request gets a result", .timeLimit(.minutes(2)))
    func faults() async throws {
        let faults = SimulatedFaults(http500: 0.05, http502AfterCreating: 0.05, notJSON: 0.05, hangAfterCreating: 0.02, hangSeconds: 2)
        let harness = try await WorkerHarness(simulator: SimulatorConfiguration(
            tokenLifetime: .seconds(2), submitLatency: 0...0.02, failureRate: 0.05, qpsLimit: 40, faults: faults
        ))
        try await harness.run(within: 110, "faults") {
            let count = 200
            try await harness.kafka.produce((0..<count).map { requestJSON(id: "f-\($0)") })
            var configuration = harness.configuration
            configuration.chanjing.requestTimeout = .seconds(1)
            configuration.retry = RetryPolicy(maxAttempts: 10, maxElapsed: .seconds(30), initialBackoff: .milliseconds(20), maxBackoff: .milliseconds(300))
            let (worker, run) = try await harness.startWorker(configuration)
            let results = try await harness.results(atLeast: count, within: 90)
            await worker.shutdown()
            try await run.value

            let perRequest = Dictionary(grouping: results, by: \.1.requestID)
            #expect(perRequest.count == count, "every request has a result")
            #expect(results.filter { $0.1.status == .submitted }.count >= count - 2)
            let stats = harness.simulator.stats
            #expect(stats.injectedFailures > 0)
            #expect(stats.throttled > 0)
            #expect(stats.tokenFetches >= 2)
            #expect(results.contains { $0.1.retries.ambiguous > 0 })
            #expect(results.allSatisfy { $0.1.error?.code != .credentialsRefused })
        }
    }
}

@Suite("Broker faults end to end", .serialized)
struct BrokerFaultTests {
    @Test("a broker down and back, errors on Produce, Fetch and OffsetCommit, a leader change: nothing is lost", .timeLimit(.minutes(2)))
    func brokerFaults() async throws {
        let harness = try await WorkerHarness(partitions: 3, brokers: 3, simulator: SimulatorConfiguration(submitLatency: 0.01...0.05))
        try await harness.run(within: 110, "brokerFaults") {
            let count = 150
            try await harness.kafka.produce((0..<count).map { requestJSON(id: "k-\($0)") })
            let cluster = harness.kafka.cluster
            // Kafka protocol API keys and error codes.
            let produce: Int16 = 0, fetch: Int16 = 1, offsetCommit: Int16 = 8
            let notLeader: Int32 = 6, timedOut: Int32 = 7, coordinatorNotAvailable: Int32 = 15
            cluster.injectErrors(apiKey: produce, errorCode: notLeader, count: 5)
            cluster.injectErrors(apiKey: fetch, errorCode: timedOut, count: 3)
            cluster.injectErrors(apiKey: offsetCommit, errorCode: coordinatorNotAvailable, count: 3)
            let (worker, run) = try await harness.startWorker()
            _ = try await harness.results(atLeast: 20, within: 30)
            cluster.setLeader(topic: harness.kafka.resultsTopic, partition: 0, brokerID: 2)
            cluster.setLeader(topic: harness.kafka.requestsTopic, partition: 1, brokerID: 3)
            cluster.setBroker(3, up: false)
            try await Task.sleep(for: .seconds(2))
            cluster.setBroker(3, up: true)
            let results = try await harness.results(atLeast: count, within: 80)
            try await eventually(30, "all offsets committed") {
                try await harness.kafka.committedOffsets(group: harness.group).values.reduce(0) { $0 + max(0, $1) } == Int64(count)
            }
            await worker.shutdown()
            try await run.value
            #expect(Set(results.map(\.1.requestID)).count == count, "every request has a result")
        }
    }
    @Test("a fatal idempotent-producer error stops the worker with producerFailed and commits nothing unacknowledged", .timeLimit(.minutes(2)))
    func fatalProducerError() async throws {
        let harness = try await WorkerHarness(partitions: 1, simulator: SimulatorConfiguration(submitLatency: 0.01...0.02))
        try await harness.run(within: 110, "fatalProducerError") {
            let count = 40
            try await harness.kafka.produce((0..<count).map { requestJSON(id: "fatal-\($0)") })
            // OUT_OF_ORDER_SEQUENCE_NUMBER on Produce: the idempotent producer cannot recover.
            let produce: Int16 = 0, outOfOrderSequence: Int32 = 45
            harness.kafka.cluster.injectErrors(apiKey: produce, errorCode: outOfOrderSequence, count: 50)
            let (_, run) = try await harness.startWorker()
            let outcome = await run.result
            guard case .failure(let error) = outcome, case WorkerFailure.producerFailed = error else {
                Issue.record("expected WorkerFailure.producerFailed, got \(outcome)")
                return
            }
            // Every committed request has an acknowledged result: the commit never runs ahead.
            let committed = try await harness.kafka.committedOffsets(group: harness.group).values.reduce(0) { $0 + max(0, $1) }
            let acknowledged = try await harness.results(atLeast: 0, within: 15, settle: .seconds(5))
            #expect(committed <= Int64(Set(acknowledged.map(\.1.requestID)).count))
            #expect(committed < Int64(count))
        }
    }
}

@Suite("Process faults end to end", .serialized)
struct ProcessFaultTests {
    @Test("SIGKILL at random moments, SIGTERM mid-run, restarts: every request ends with a result", .timeLimit(.minutes(3)))
    func killsAndRestarts() async throws {
        let harness = try await WorkerHarness(simulator: SimulatorConfiguration(submitLatency: 0.05...0.15))
        try await harness.run(within: 170, "killsAndRestarts") {
            let count = 1_000
            try await harness.kafka.produce((0..<count).map { requestJSON(id: "p-\($0)") })
            let environment = ["MAX_IN_FLIGHT": "16"]
            for round in 0..<4 {
                let worker = try harness.startWorkerProcess(extraEnvironment: environment)
                defer { worker.signal(SIGKILL) }
                // A few seconds in: the group is joined and requests are in flight.
                try await Task.sleep(for: .milliseconds(Int.random(in: 4_000...6_000)))
                if round == 3 {
                    worker.signal(SIGTERM)
                    let (status, output) = await worker.waitForExit(within: 30)
                    #expect(status == 0, "SIGTERM mid-run must exit 0: \(output)")
                } else {
                    worker.signal(SIGKILL)
                    _ = await worker.waitForExit(within: 10)
                }
            }
            let last = try harness.startWorkerProcess(extraEnvironment: environment)
            defer { last.signal(SIGKILL) }
            // Everything committed means every result was acknowledged first.
            try await eventually(90, "all offsets committed") {
                try await harness.kafka.committedOffsets(group: harness.group).values.reduce(0) { $0 + max(0, $1) } == Int64(count)
            }
            let results = try await harness.results(atLeast: count, within: 30, settle: .seconds(1))
            let missing = Set((0..<count).map { "p-\($0)" }).subtracting(results.map(\.1.requestID))
            #expect(missing.isEmpty, "\(missing.count) requests have no result")
            last.signal(SIGTERM)
            #expect(await last.waitForExit(within: 30).status == 0)
        }
    }

    @Test("two workers with members joining and leaving share the work and lose nothing", .timeLimit(.minutes(3)))
    func membersJoiningAndLeaving() async throws {
        let harness = try await WorkerHarness(partitions: 4, simulator: SimulatorConfiguration(submitLatency: 0.02...0.08))
        try await harness.run(within: 170, "membersJoiningAndLeaving") {
            let count = 600
            try await harness.kafka.produce((0..<count).map { requestJSON(id: "m-\($0)") })
            var configuration = harness.configuration
            configuration.maxInFlight = 8
            let (first, firstRun) = try await harness.startWorker(configuration)
            _ = try await harness.results(atLeast: 50, within: 30)
            let (second, secondRun) = try await harness.startWorker(configuration)  // joins: rebalance
            _ = try await harness.results(atLeast: 250, within: 60)
            await first.shutdown()  // leaves: rebalance
            try await firstRun.value
            let (third, thirdRun) = try await harness.startWorker(configuration)  // joins again
            try await eventually(90, "all offsets committed") {
                try await harness.kafka.committedOffsets(group: harness.group).values.reduce(0) { $0 + max(0, $1) } == Int64(count)
            }
            let results = try await harness.results(atLeast: count, within: 30, settle: .seconds(1))
            await second.shutdown()
            await third.shutdown()
            try await secondRun.value
            try await thirdRun.value
            #expect(Set(results.map(\.1.requestID)).count == count)
        }
    }

    @Test("a rebalance does not wait for requests that are only waiting (here for the rate limiter): they leave at once and the next owner takes them", .timeLimit(.minutes(2)))
    func revocationReleasesWaitingRequests() async throws {
        let harness = try await WorkerHarness(partitions: 4)
        try await harness.run(within: 110, "revocationReleasesWaitingRequests") {
            let count = 40
            try await harness.kafka.produce((0..<count).map { requestJSON(id: "w-\($0)") })
            var configuration = harness.configuration
            // 1 call a second: most of the 32 requests in flight wait for their slot, for up to
            // 32 s, longer than a revocation waits for them (the drain timeout).
            configuration.maxQPS = 1
            configuration.maxInFlight = 32
            configuration.drainTimeout = .seconds(20)
            let log = LogSink()
            let (first, firstRun) = try await harness.startWorker(configuration, logger: TestLogging.capturing(log, level: .warning))
            _ = try await harness.results(atLeast: 3, within: 30)
            let (second, secondRun) = try await harness.startWorker(configuration)  // joins: rebalance
            let results = try await harness.results(atLeast: count, within: 60, settle: .seconds(1))
            #expect(Set(results.map(\.1.requestID)).count == count)
            #expect(results.allSatisfy { $0.1.status == .submitted })
            let stalled = log.all.filter { $0.contains("Releasing revoked partitions") }
            #expect(stalled.isEmpty, "the revocation waited for requests that were only waiting: \(stalled)")
            await first.shutdown()
            await second.shutdown()
            try await firstRun.value
            try await secondRun.value
        }
    }
}

@Suite("One token for the pool", .serialized)
struct SharedTokenTests {
    @Test("4 workers sharing one refresher's token file: fetches stay within lifetimes + 2, and 10400 fails nothing", .timeLimit(.minutes(2)))
    func sharedToken() async throws {
        let lifetime = 3.0
        let harness = try await WorkerHarness(partitions: 4, simulator: SimulatorConfiguration(tokenLifetime: .seconds(3), submitLatency: 0.1...0.3))
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("token-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try await harness.run(within: 110, "sharedToken") {
            let count = 600
            try await harness.kafka.produce((0..<count).map { requestJSON(id: "t-\($0)") })
            let refresherClient = try ChanjingClient(configuration: .init(baseURL: harness.server.baseURL))
            let refresher = TokenFileRefresher(client: refresherClient, appID: "sim-app", secretKey: "sim-secret", path: path, logger: TestLogging.logger())
            let refreshing = Task { await refresher.run() }
            try await eventually(10, "the first token file") { FileManager.default.fileExists(atPath: path) }
            let started = ContinuousClock.now

            var configuration = harness.configuration
            configuration.maxInFlight = 2
            var workers: [(WorkerRuntime, Task<Void, any Error>)] = []
            for _ in 0..<4 {
                let runtime = try await WorkerRuntime(
                    configuration: configuration, credentials: .tokenFile(path: path, replacementWait: .seconds(10)), logger: TestLogging.logger("worker")
                )
                workers.append((runtime, Task { try await runtime.run() }))
            }
            let results = try await harness.results(atLeast: count, within: 90)
            let elapsed = (ContinuousClock.now - started) / .seconds(1)
            for (runtime, _) in workers { await runtime.shutdown() }
            for (_, run) in workers { try await run.value }
            refreshing.cancel()
            await refreshing.value
            try await refresherClient.shutdown()

            let lifetimes = Int((elapsed / lifetime).rounded(.up))
            #expect(lifetimes >= 5, "the run must span at least 5 token lifetimes (took \(elapsed) s)")
            #expect(harness.simulator.stats.tokenFetches <= lifetimes + 2, "\(harness.simulator.stats.tokenFetches) fetches over \(lifetimes) lifetimes")
            #expect(results.allSatisfy { $0.1.status == .submitted }, "no request may fail because of 10400")
        }
    }
}
