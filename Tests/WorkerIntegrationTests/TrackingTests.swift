import ChanjingSimulator
import Foundation
import Kafka
import Testing
import TestSupport
import VideoContract
import Worker

/// Every submitted task followed to its video, against the mock cluster and a simulator that
/// renders: one completion per request, with the right status and URL, through crashes.
@Suite("Following tasks to their video", .serialized)
struct TrackingTests {
    static let renders = SimulatorConfiguration(renderTime: 1...3, renderFailureRate: 0.1)

    /// What the simulator says `completion` should be, or why it is not.
    static func mismatch(_ completion: VideoCompletion, _ simulator: ChanjingSimulator) -> String? {
        guard let task = simulator.tasks.first(where: { $0.uniqueID == completion.creationID }) else { return "no task \(completion.creationID)" }
        guard task.prompt == "prompt for \(completion.requestID)" else { return "\(completion.requestID) names another request's task" }
        switch (task.ending, completion.status) {
        case (.success, .succeeded):
            return completion.videoURLs == ["https://simulator.invalid/videos/\(task.uniqueID).mp4"] ? nil : "wrong URLs \(completion.videoURLs)"
        case (.successWithoutOutput, .failed):
            return completion.error?.code == .noOutput ? nil : "expected no_output, got \(String(describing: completion.error))"
        case (.failure(let progress, let message), .failed):
            let expected = VideoCompletion.ErrorDetail(code: .generationFailed, message: "Chanjing reported the generation failed", chanjingMessage: message)
            return completion.error == expected && completion.progressDescription == progress ? nil : "wrong error \(String(describing: completion.error))"
        default:
            return "\(completion.requestID): rendered \(task.ending), completion \(completion.status)"
        }
    }

    @Test("two in-process workers: a completion for every request, keyed and headed like its result, read in batches", .timeLimit(.minutes(2)))
    func completionForEveryRequest() async throws {
        var renders = Self.renders
        renders.renderWithoutOutputRate = 0.05
        let harness = try await WorkerHarness(partitions: 4, simulator: renders)
        try await harness.run(within: 110, "completions") {
            let count = 300
            try await harness.kafka.produce(
                (0..<count).map { requestJSON(id: "t-\($0)") }, keys: (0..<count).map { "key-\($0)" },
                headers: [KafkaHeader(name: "traceparent", text: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")]
            )
            let configuration = harness.configuration(followingTasksFor: .seconds(60))
            let workers = [try await harness.startWorker(configuration), try await harness.startWorker(configuration)]
            let completions = try await harness.completions(forEvery: count, within: 80)
            let results = try await harness.results(forEvery: count, within: 10)
            for (worker, _) in workers { await worker.shutdown() }
            for (_, run) in workers { try await run.value }

            let byRequest = Dictionary(grouping: completions, by: \.1.requestID)
            #expect(byRequest.count == count, "a completion for every request")
            let creationIDs = Dictionary(results.map { ($0.1.requestID, $0.1.creationID) }, uniquingKeysWith: { first, _ in first })
            let offsets = Dictionary(results.map { ($0.1.requestID, $0.1.source) }, uniquingKeysWith: { first, _ in first })
            var problems: [String] = []
            for (message, completion) in completions {
                if let problem = Self.mismatch(completion, harness.simulator) { problems.append(problem) }
                if completion.creationID != creationIDs[completion.requestID] ?? nil { problems.append("\(completion.requestID): not its result's task") }
                if completion.source != offsets[completion.requestID] { problems.append("\(completion.requestID): source \(completion.source)") }
                let index = completion.requestID.dropFirst(2)
                if message.key != Array("key-\(index)".utf8) || message.headers.first?.name != "traceparent" { problems.append("\(completion.requestID): key or headers") }
            }
            #expect(problems.isEmpty, "\(problems.count) wrong completions: \(problems.prefix(5))")
            let statuses = Dictionary(grouping: completions.map(\.1.status), by: { $0 }).mapValues(\.count)
            #expect(statuses[.succeeded, default: 0] > 200 && statuses[.failed, default: 0] > 10, "\(statuses)")
            #expect(statuses[.expired] == nil)
            // Batched: 300 tasks read about twice each, never one call per task.
            let stats = harness.simulator.stats
            #expect(stats.mostIDsQueried <= 50 && stats.mostIDsQueried > 1)
            #expect(stats.taskQueries < count / 2, "\(stats.taskQueries) task queries")
            print("completions: \(completions.count) for \(count) requests, \(statuses), \(stats.taskQueries) task queries (at most \(stats.mostIDsQueried) IDs)")
        }
    }

    @Test(
        "records whose renders failed, delivered again, get their results again and no new task; the request sent again is a new task",
        .timeLimit(.minutes(1))
    )
    func failedRenderRedelivered() async throws {
        let harness = try await WorkerHarness(partitions: 1, simulator: SimulatorConfiguration(renderTime: 1...1, renderFailureRate: 1))
        try await harness.run(within: 50, "redelivered failed renders") {
            try await harness.kafka.produce((0..<3).map { requestJSON(id: "f-\($0)") })
            var configuration = harness.configuration(followingTasksFor: .seconds(20))
            let (first, firstRun) = try await harness.startWorker(configuration)
            let failed = try await harness.completions(forEvery: 3, within: 20)
            await first.shutdown()
            try await firstRun.value
            #expect(failed.count == 3 && failed.allSatisfy { $0.1.status == .failed })

            // A consumer group with no committed offsets reads the same records again, as the
            // group does after a commit lost to a rebalance or a crash.
            configuration.groupID += "-again"
            let (second, secondRun) = try await harness.startWorker(configuration)
            let results = try await harness.results(atLeast: 6, within: 20).map(\.1)
            let byRequest = Dictionary(grouping: results, by: \.requestID)
            #expect(byRequest.count == 3 && byRequest.values.allSatisfy { $0.count == 2 && Set($0.map(\.creationID)).count == 1 }, "\(results)")
            #expect(results.filter { $0.replayed == true }.count == 3)
            #expect(harness.simulator.tasks.count == 3)

            try await harness.kafka.produce([requestJSON(id: "f-0")])
            let resent = try await harness.results(atLeast: 7, within: 20).map(\.1).filter { $0.requestID == "f-0" && $0.replayed == nil }
            #expect(resent.count == 2 && Set(resent.map(\.creationID)).count == 2, "a new task: \(resent)")
            #expect(harness.simulator.tasks.count == 4)
            let completions = try await harness.completions(forEvery: 3, within: 10, settle: .seconds(2))
            #expect(completions.count == 4, "one more completion, the new task's: \(completions.map(\.1.creationID))")
            await second.shutdown()
            try await secondRun.value
        }
    }

    @Test("a task still rendering after --max-track-time ends `expired`, and is read no more", .timeLimit(.minutes(1)))
    func expiry() async throws {
        let harness = try await WorkerHarness(partitions: 1, simulator: SimulatorConfiguration(renderTime: 600...600))
        try await harness.run(within: 50, "expiry") {
            try await harness.kafka.produce((0..<5).map { requestJSON(id: "slow-\($0)") })
            let (worker, run) = try await harness.startWorker(harness.configuration(followingTasksFor: .seconds(3)))
            let completions = try await harness.completions(forEvery: 5, within: 30)
            let queries = harness.simulator.stats.taskQueries
            try await Task.sleep(for: .seconds(2))
            #expect(harness.simulator.stats.taskQueries == queries, "expired tasks are not read again")
            await worker.shutdown()
            try await run.value

            #expect(completions.count == 5)
            for (_, completion) in completions {
                #expect(completion.status == .expired && completion.error?.code == .trackingExpired)
                #expect(completion.progressDescription == "Queued" && completion.videoURLs.isEmpty, "the progress last read")
                #expect(completion.renderSeconds >= 3)
            }
        }
    }

    @Test("2,000 requests through two worker processes rendering 2-6 s, one SIGKILLed mid-render and one stopped with SIGTERM: no completion lost, few repeated", .timeLimit(.minutes(4)))
    func crashesLoseNoCompletion() async throws {
        let harness = try await WorkerHarness(partitions: 6, simulator: SimulatorConfiguration(renderTime: 2...6, renderFailureRate: 0.1))
        try await harness.run(within: 230, "completions through crashes") {
            let count = 2_000
            try await harness.kafka.produce((0..<count).map { requestJSON(id: "c-\($0)") }, keys: (0..<count).map { "k\($0)" })
            let environment = ["TRACK_FIRST_CHECK": "1", "TRACK_INTERVAL": "1", "MAX_TRACK_TIME": "120"]
            var workers = try (0..<2).map { _ in try harness.startWorkerProcess(extraEnvironment: environment) }
            let started = ContinuousClock.now
            // Renders are under way once the first results are out.
            _ = try await harness.results(atLeast: count / 2, within: 60)
            try await Task.sleep(for: .seconds(2))
            workers[0].signal(SIGKILL)
            _ = await workers[0].waitForExit(within: 20)
            workers[0] = try harness.startWorkerProcess(extraEnvironment: environment)
            try await Task.sleep(for: .seconds(3))
            workers[1].signal(SIGTERM)
            let stopped = await workers[1].waitForExit(within: 30)
            #expect(stopped.status == 0, "\(stopped.output.suffix(2000))")
            workers[1] = try harness.startWorkerProcess(extraEnvironment: environment)

            let completions = try await harness.completions(forEvery: count, within: 150, settle: .seconds(3))
            for worker in workers { worker.signal(SIGTERM) }
            for worker in workers { _ = await worker.waitForExit(within: 30) }

            let byRequest = Dictionary(grouping: completions.map(\.1), by: \.requestID)
            #expect(byRequest.count == count, "no completion lost: \(count - byRequest.count) missing")
            let problems = completions.compactMap { Self.mismatch($0.1, harness.simulator) }
            #expect(problems.isEmpty, "\(problems.count) wrong completions: \(problems.prefix(5))")
            // Repeated only where a worker died between publishing a completion and recording it.
            let repeated = completions.count - byRequest.count
            #expect(repeated <= 200, "\(repeated) completions published twice")
            #expect(harness.simulator.stats.mostIDsQueried <= 50)
            print("completions through crashes: \(completions.count) for \(count) requests (\(repeated) repeated) in \(ContinuousClock.now - started)")
        }
    }
}
