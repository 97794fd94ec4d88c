import Chanjing
import ChanjingSimulator
import Foundation
import Kafka
import PoolCoordination
import Testing
import TestSupport
import VideoContract
import Worker

/// A pool sharing the app credentials: one token for all members through the coordination topic,
/// and a process outside the pool that fetches tokens with the same app ID.
@Suite("Pool token", .serialized)
struct PoolTokenTests {
    @Test("4 worker processes with the same app credentials and 3 s tokens, requests flowing over 10 lifetimes: one fetch per lifetime, nothing failed", .timeLimit(.minutes(3)))
    func fourProcessesShareOneToken() async throws {
        try await Self.runPool(killingTheFetcher: false)
    }

    @Test("the same, with the member holding the fetch claim SIGKILLed after Chanjing issued its token and before it published it", .timeLimit(.minutes(3)))
    func fetcherKilledBeforePublishing() async throws {
        try await Self.runPool(killingTheFetcher: true)
    }

    /// 4 worker processes, 3 s tokens, 20 requests a second for 32 s. With `killingTheFetcher`,
    /// the token endpoint answers 1.5 s after issuing, and the member whose claim is read first
    /// after 8 s is SIGKILLed 0.7 s later (then restarted, as a supervisor would).
    static func runPool(killingTheFetcher: Bool) async throws {
        var simulator = SimulatorConfiguration(tokenLifetime: .seconds(3), submitLatency: 0.01...0.05)
        if killingTheFetcher { simulator.tokenLatency = .milliseconds(1500) }
        let harness = try await WorkerHarness(partitions: 4, simulator: simulator)
        try await harness.run(within: 170, "pool of 4") {
            var workers = try (0..<4).map { _ in try harness.startWorkerProcess() }
            let started = ContinuousClock.now
            // Kills the member that holds the next claim, 0.7 s after the claim appears: its
            // fetch has reached Chanjing (which answers 1.5 s later) and nothing is published.
            let killer = Task { () -> Int32? in
                guard killingTheFetcher else { return nil }
                try await Task.sleep(for: .seconds(8))
                guard let member = try await Self.nextClaimant(harness) else { return nil }
                try await Task.sleep(for: .milliseconds(700))
                kill(member, SIGKILL)
                return member
            }
            var sent = 0
            var restarted = 0
            // 20 requests a second for 32 s: more than 10 token lifetimes.
            while ContinuousClock.now - started < .seconds(32) {
                try await harness.kafka.produce((0..<20).map { requestJSON(id: "pool-\(sent + $0)") }, keys: (0..<20).map { "k\(sent + $0)" })
                sent += 20
                // A supervisor restarts the killed member.
                for index in workers.indices where !workers[index].isRunning {
                    _ = await workers[index].waitForExit(within: 10)
                    workers[index] = try harness.startWorkerProcess()
                    restarted += 1
                }
                try await Task.sleep(for: .milliseconds(1000))
            }
            let killed = try await killer.value
            if killingTheFetcher {
                #expect(killed != nil && restarted == 1, "a member holding the fetch claim was killed and restarted")
            }
            let elapsed = ContinuousClock.now - started
            let results = try await harness.results(forEvery: sent, within: 90, settle: .seconds(1))
            for worker in workers { worker.signal(SIGTERM) }
            var outputs: [String] = []
            for worker in workers { outputs.append(await worker.waitForExit(within: 30).output) }

            let byRequest = Dictionary(grouping: results.map(\.1), by: \.requestID)
            #expect(byRequest.count == sent, "every request has a result")
            let failed = results.map(\.1).filter { $0.status != .submitted }
            #expect(failed.isEmpty, "no result failed: \(failed.prefix(3).map { "\($0.requestID) \($0.error?.message ?? "")" })")
            let lifetimes = Int((elapsed / .seconds(3)).rounded(.up)) + 1
            let fetches = harness.simulator.stats.tokenFetches
            #expect(fetches <= lifetimes + 2, "\(fetches) token fetches over about \(lifetimes) lifetimes")
            #expect(harness.simulator.tasks.count == sent, "no request was submitted twice")
            if !failed.isEmpty || fetches > lifetimes + 2 { print(outputs.joined(separator: "\n----\n")) }
        }
    }

    /// The process ID of the member whose claim next appears on the coordination topic.
    static func nextClaimant(_ harness: WorkerHarness) async throws -> Int32? {
        let partition = TopicPartition(topic: harness.kafka.coordinationTopic, partition: 0)
        let end = try await ClusterInspector.watermarkOffsets(
            properties: harness.kafka.clientProperties, partitions: [partition], timeout: .seconds(10), logger: TestLogging.logger()
        )[partition]?.high ?? 0
        let consumer = try KafkaConsumer(properties: harness.kafka.clientProperties, partitions: [partition: end], logger: TestLogging.logger())
        var claimant: Int32?
        for try await message in consumer.messages {
            if case .claim(let id, _, _)? = CoordinationRecord.decode(message.value) {
                claimant = id.member.split(separator: "/").dropLast().last.flatMap { Int32($0) }
                break
            }
        }
        await consumer.close()
        return claimant
    }

    @Test("members see each other: /metrics and `chanjing-worker pool` show both members, their rates and the token's holder", .timeLimit(.minutes(2)))
    func membersSeeEachOther() async throws {
        let harness = try await WorkerHarness(partitions: 2)
        try await harness.run(within: 100, "pool view") {
            var configuration = harness.configuration
            configuration.httpPort = 0
            let (first, firstRun) = try await harness.startWorker(configuration)
            let (second, secondRun) = try await harness.startWorker(configuration)
            try await harness.kafka.produce((0..<10).map { requestJSON(id: "v-\($0)") })
            _ = try await harness.results(atLeast: 10)
            let port = try #require(await first.httpPort())
            try await eventually(30, "both members reported and the token is known") {
                let metrics = try await httpGet("http://127.0.0.1:\(port)/metrics").body
                return prometheusValue("chanjing_worker_pool_members", in: metrics) == 2
                    && (prometheusValue("chanjing_worker_token_expires_at_seconds", in: metrics) ?? 0) > Date().timeIntervalSince1970
            }
            let metrics = try await httpGet("http://127.0.0.1:\(port)/metrics").body
            #expect(prometheusValue("chanjing_worker_token_contended", in: metrics) == 0)
            #expect([0, 1].contains(prometheusValue("chanjing_worker_token_fetched_here", in: metrics)))

            let tool = try WorkerProcess(
                arguments: ["pool", "--brokers", harness.kafka.cluster.bootstrapServers, "--coordination-topic", harness.kafka.coordinationTopic, "--json"],
                environment: [:]
            )
            let (status, output) = await tool.waitForExit(within: 30)
            #expect(status == 0, "\(output)")
            let report = try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any]
            let members = (report?["members"] as? [[String: Any]])?.compactMap { $0["member"] as? String } ?? []
            let sources = [first, second].compactMap { $0.tokens as? CoordinatedTokenSource }
            #expect(Set(members) == Set(sources.map(\.member)), "\(output)")
            let token = report?["token"] as? [String: Any]
            #expect(sources.map(\.member).contains(token?["fetched_by"] as? String ?? ""), "\(output)")
            #expect(!output.contains(sources.first?.current?.value ?? "no token"), "the tool shows no token value")
            #expect(harness.simulator.stats.tokenFetches == 1)
            await first.shutdown()
            await second.shutdown()
            try await firstRun.value
            try await secondRun.value
        }
    }

    @Test("a process outside the pool fetching a token every second: requests wait (circuit open, contention reported) and none fails; when it stops, work resumes", .timeLimit(.minutes(3)))
    func outsideFetcherOpensTheCircuit() async throws {
        let harness = try await WorkerHarness(partitions: 2)
        try await harness.run(within: 170, "contention") {
            let (worker, running) = try await harness.startWorker()
            let outsider = Task {
                while !Task.isCancelled {
                    _ = harness.simulator.accessToken(body: Array(#"{"app_id":"sim-app","secret_key":"sim-secret"}"#.utf8))
                    try? await Task.sleep(for: .milliseconds(1000))
                }
            }
            // Requests keep coming until the worker reports contention, and a few more after.
            let source = try #require(worker.tokens as? CoordinatedTokenSource)
            var sent = 0
            let deadline = ContinuousClock.now + .seconds(60)
            while !source.contended, ContinuousClock.now < deadline {
                try await harness.kafka.produce((0..<5).map { requestJSON(id: "c-\(sent + $0)") })
                sent += 5
                try await Task.sleep(for: .milliseconds(300))
            }
            #expect(source.contended, "contention reported")
            try await harness.kafka.produce((0..<5).map { requestJSON(id: "c-\(sent + $0)") })
            sent += 5
            try await Task.sleep(for: .seconds(3))
            let during = try await harness.kafka.readResults(atLeast: sent, within: 1)
            #expect(during.compactMap { try? VideoResult.decode($0.value) }.allSatisfy { $0.status == .submitted }, "nothing fails while tokens are contended")

            outsider.cancel()
            _ = await outsider.result
            let results = try await harness.results(forEvery: sent, within: 90)
            #expect(Set(results.map(\.1.requestID)).count == sent, "work resumes once the outside fetcher stops")
            #expect(results.allSatisfy { $0.1.status == .submitted }, "\(results.filter { $0.1.status != .submitted }.map { $0.1.error?.message ?? "" })")
            await worker.shutdown()
            try await running.value
        }
    }
}
