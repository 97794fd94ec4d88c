import ChanjingSimulator
import Foundation
import Kafka
import Testing
import TestSupport
import VideoContract
import Worker

/// `enqueue`, `lag` and `replay` run as the real binary against the mock cluster, with a worker
/// in-process and the simulator as Chanjing.
@Suite("Operator tools end to end", .serialized)
struct OperatorToolsTests {
    @Test("enqueue validates and sends, lag reports per partition, replay re-enqueues failures, enqueue --wait prints results", .timeLimit(.minutes(3)))
    func tools() async throws {
        let harness = try await WorkerHarness(partitions: 3, simulator: SimulatorConfiguration(failureRate: 1))  // every submit answers 50000
        let (kafka, simulator) = (harness.kafka, harness.simulator)
        let common = ["--brokers", kafka.cluster.bootstrapServers, "--kafka", "message.timeout.ms=20000"]
        let topics = ["--requests-topic", kafka.requestsTopic]
        try await harness.run(within: 170, "the operator tools") {
            // enqueue: 11 valid requests (one without request_id, which the worker names by its
            // offset) and one the worker would reject, from an NDJSON file.
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("requests-\(UUID().uuidString).ndjson")
            let lines = (0..<10).map { #"{"request_id":"tool-\#($0)","ref_prompt":"a lighthouse at dusk \#($0)"}"# }
                + [#"{"request_id":"tool-bad","ref_prompt":"x","video_duration":7}"#, #"{"ref_prompt":"no id"}"#]
            try lines.joined(separator: "\n").write(to: file, atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(at: file) }
            let enqueue = try await run(["enqueue", "--file", file.path] + common + topics)
            #expect(enqueue.status == 65, "refused requests make the status 65: \(enqueue.output)")
            #expect(enqueue.output.contains("video_duration"), "the refusal names the field: \(enqueue.output)")
            #expect(enqueue.output.contains("sent 11 request(s)"), "\(enqueue.output)")

            // lag before any worker ran: nothing committed, everything to read.
            let before = try await lagReport(common + ["--group", "tools", "--topic", kafka.requestsTopic])
            #expect(before["total_lag"] as? Int == 11)
            #expect((before["partitions"] as? [[String: Any]])?.count == 3)

            // A worker whose every submit fails: 11 `failed` results, offsets committed.
            var configuration = harness.configuration
            configuration.groupID = "tools"
            configuration.retry = RetryPolicy(maxAttempts: 1, maxElapsed: .seconds(5))
            configuration.chanjing.requestTimeout = .seconds(5)
            configuration.maxInFlight = 4
            try await Self.runWorker(configuration, until: 11, harness: harness)
            let failed = try await kafka.readResults(atLeast: 11, within: 30).map { try VideoResult.decode($0.value) }
            #expect(failed.allSatisfy { $0.status == .failed && $0.error?.code == .retriesExhausted })
            let table = try await run(["lag", "--group", "tools", "--topic", kafka.requestsTopic] + common)
            #expect(table.status == 0)
            #expect(table.output.contains("PARTITION") && table.output.contains("TOTAL"), "\(table.output)")
            let after = try await lagReport(common + ["--group", "tools", "--topic", kafka.requestsTopic])
            #expect(after["total_lag"] as? Int == 0, "\(after)")

            // Chanjing recovers; replay re-enqueues the eleven failures unchanged.
            simulator.configure { $0.failureRate = 0 }
            let dryRun = try await run(["replay", "--since", "1h", "--code", "retries_exhausted", "--dry-run", "--results-topic", kafka.resultsTopic] + common + topics)
            #expect(dryRun.output.contains("11 request(s) would be replayed"), "\(dryRun.output)")
            let none = try await run(["replay", "--since", "1h", "--code", "quota_exhausted", "--dry-run", "--results-topic", kafka.resultsTopic] + common + topics)
            #expect(none.output.contains("0 request(s) would be replayed"), "\(none.output)")
            let replay = try await run(["replay", "--since", "1h", "--results-topic", kafka.resultsTopic] + common + topics)
            #expect(replay.status == 0 && replay.output.contains("replayed 11 request(s)"), "\(replay.output)")

            // The worker submits them this time; enqueue --wait sees its own requests' results.
            let (worker, running) = try await harness.startWorker(configuration)
            let waited = try await run(
                ["enqueue", "--wait", "--wait-timeout", "60", "--results-topic", kafka.resultsTopic,
                 #"{"request_id":"wait-1","ref_prompt":"a red kite"}"#, #"{"request_id":"wait-2","ref_prompt":"a blue kite"}"#] + common + topics,
                within: 90
            )
            #expect(waited.status == 0, "\(waited.output)")
            let printed = waited.output.split(separator: "\n").filter { $0.hasPrefix("{") }.compactMap { try? VideoResult.decode(Array($0.utf8)) }
            #expect(Set(printed.map(\.requestID)) == ["wait-1", "wait-2"])
            #expect(printed.allSatisfy { $0.status == .submitted })
            let unnamed = try await run(["enqueue", "--wait", #"{"ref_prompt":"no id"}"#] + common + topics)
            #expect(unnamed.status == 65 && unnamed.output.contains("request_id"), "\(unnamed.output)")
            let all = try await kafka.readResults(atLeast: 24, within: 60).map { try VideoResult.decode($0.value) }
            await worker.shutdown()
            try await running.value
            let submitted = Set(all.filter { $0.status == .submitted }.map(\.requestID))
            #expect(submitted.isSuperset(of: (0..<10).map { "tool-\($0)" }), "every replayed request was submitted")
        }
    }

    @Test("enqueue --wait completed prints each request's completion; replay --completions re-enqueues the renders that failed, which then succeed", .timeLimit(.minutes(2)))
    func completions() async throws {
        // Every render fails at first.
        let harness = try await WorkerHarness(partitions: 2, simulator: SimulatorConfiguration(renderTime: 1...2, renderFailureRate: 1))
        let kafka = harness.kafka
        let common = ["--brokers", kafka.cluster.bootstrapServers, "--kafka", "message.timeout.ms=20000", "--requests-topic", kafka.requestsTopic]
        try await harness.run(within: 110, "completions with the tools") {
            let (worker, running) = try await harness.startWorker(harness.configuration(followingTasksFor: .seconds(3600)))
            let waited = try await run(
                ["enqueue", "--wait", "completed", "--wait-timeout", "60", "--results-topic", kafka.resultsTopic, "--completions-topic", kafka.completionsTopic,
                 #"{"request_id":"film-1","ref_prompt":"a paper boat"}"#, #"{"request_id":"film-2","ref_prompt":"a glass boat"}"#] + common,
                within: 80
            )
            #expect(waited.status == 0, "\(waited.output)")
            let lines = waited.output.split(separator: "\n").filter { $0.hasPrefix("{") }.map { Array($0.utf8) }
            let printed = lines.compactMap { try? VideoCompletion.decode($0) }
            #expect(Set(printed.map(\.requestID)) == ["film-1", "film-2"], "\(waited.output)")
            #expect(printed.allSatisfy { $0.status == .failed && $0.error?.code == .generationFailed })
            #expect(lines.compactMap { try? VideoResult.decode($0) }.count == 2, "the results come first")
            #expect(waited.output.contains("film-1: failed"), "\(waited.output)")

            // Renders work again; the two failed ones are replayed and rendered this time.
            harness.simulator.configure { $0.renderFailureRate = 0 }
            let tools = common + ["--results-topic", kafka.resultsTopic, "--completions-topic", kafka.completionsTopic]
            let withoutCompletions = try await run(["replay", "--since", "1h", "--dry-run"] + tools)
            #expect(withoutCompletions.output.contains("0 request(s) would be replayed"), "\(withoutCompletions.output)")
            let dryRun = try await run(["replay", "--since", "1h", "--completions", "--code", "generation_failed", "--dry-run"] + tools)
            #expect(dryRun.output.contains("2 request(s) would be replayed"), "\(dryRun.output)")
            let replay = try await run(["replay", "--since", "1h", "--completions"] + tools)
            #expect(replay.status == 0 && replay.output.contains("replayed 2 request(s)"), "\(replay.output)")
            let completions = try await harness.completions(forEvery: 2, within: 5)  // the failed ones
            let all = try await kafka.read(kafka.completionsTopic, atLeast: completions.count + 2, within: 40).map { try VideoCompletion.decode($0.value) }
            #expect(Set(all.filter { $0.status == .succeeded }.map(\.requestID)) == ["film-1", "film-2"], "\(all.map(\.status))")
            #expect(harness.simulator.tasks.count == 4, "each replayed request was submitted again, once")
            // Replayed and rendered: nothing is left to replay.
            let again = try await run(["replay", "--since", "1h", "--completions", "--dry-run"] + tools)
            #expect(again.output.contains("0 request(s) would be replayed"), "\(again.output)")
            await worker.shutdown()
            try await running.value
        }
    }

    @Test("enqueue spreads a burst of requests over the partitions, keyed by request_id", .timeLimit(.minutes(1)))
    func enqueueSpreadsRequests() async throws {
        let kafka = try KafkaTestCluster(partitions: 3)
        let common = ["--brokers", kafka.cluster.bootstrapServers, "--requests-topic", kafka.requestsTopic]
        try await kafka.run(within: 50) {
            let lines = (0..<900).map { #"{"request_id":"spread-\#($0)","ref_prompt":"a kite over the dunes \#($0)"}"# }
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("spread-\(UUID().uuidString).ndjson")
            try lines.joined(separator: "\n").write(to: file, atomically: true, encoding: .utf8)
            defer { try? FileManager.default.removeItem(at: file) }
            let enqueue = try await run(["enqueue", "--file", file.path] + common)
            #expect(enqueue.status == 0, "\(enqueue.output)")
            // librdkafka's sticky partitioner would put a burst of unkeyed records on one
            // partition, which one worker of the pool would then serve alone.
            let report = try await lagReport(["--brokers", kafka.cluster.bootstrapServers, "--group", "spread", "--topic", kafka.requestsTopic])
            let perPartition = (report["partitions"] as? [[String: Any]] ?? []).compactMap { $0["lag"] as? Int }
            #expect(perPartition.reduce(0, +) == 900, "\(report)")
            #expect(perPartition.count == 3 && perPartition.allSatisfy { $0 >= 200 }, "each partition holds about a third: \(perPartition)")
        }
    }

    private func run(_ arguments: [String], within seconds: Double = 60) async throws -> (status: Int32, output: String) {
        let process = try WorkerProcess(arguments: arguments, environment: ["LOG_LEVEL": "warning"])
        return await process.waitForExit(within: seconds)
    }

    private func lagReport(_ arguments: [String]) async throws -> [String: Any] {
        let result = try await run(["lag", "--json"] + arguments)
        #expect(result.status == 0, "\(result.output)")
        let line = try #require(result.output.split(separator: "\n").first { $0.hasPrefix("{") }, "no JSON in: \(result.output)")
        return try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    }

    /// Runs a worker until `count` results are on the results topic and their offsets are committed.
    private static func runWorker(_ configuration: WorkerConfiguration, until count: Int, harness: WorkerHarness) async throws {
        let (worker, running) = try await harness.startWorker(configuration)
        _ = try await harness.kafka.readResults(atLeast: count, within: 60)
        try await eventually(30, "offsets committed") {
            try await harness.kafka.committedOffsets(group: configuration.groupID).values.reduce(0) { $0 + max(0, $1) } == Int64(count)
        }
        await worker.shutdown()
        try await running.value
    }
}
