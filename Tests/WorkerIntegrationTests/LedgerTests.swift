import ChanjingSimulator
import Foundation
import Kafka
import Testing
import TestSupport
import VideoContract
import Worker

/// Every request's results agree, and Chanjing holds exactly one task per request.
private func expectOneTaskPerRequest(_ ids: [String], results: [(KafkaMessage, VideoResult)], simulator: ChanjingSimulator) {
    let byRequest = Dictionary(grouping: results.map(\.1), by: \.requestID)
    let missing = ids.filter { byRequest[$0] == nil }
    #expect(missing.isEmpty, "\(missing.count) requests have no result, e.g. \(missing.prefix(5))")
    let disagreeing = byRequest.filter { Set($0.value.map { $0.creationID ?? "-" }).count > 1 }
    #expect(disagreeing.isEmpty, "results disagree for \(disagreeing.keys.sorted().prefix(5))")
    let tasksPerPrompt = Dictionary(grouping: simulator.tasks, by: \.prompt).mapValues(\.count)
    let duplicated = ids.filter { (tasksPerPrompt["prompt for \($0)"] ?? 0) > 1 }
    let absent = ids.filter { (tasksPerPrompt["prompt for \($0)"] ?? 0) == 0 }
    #expect(duplicated.isEmpty, "\(duplicated.count) requests were created twice or more, e.g. \(duplicated.prefix(5))")
    #expect(absent.isEmpty, "\(absent.count) requests have no task, e.g. \(absent.prefix(5))")
    for (id, results) in byRequest {
        let task = simulator.tasks.first { $0.prompt == "prompt for \(id)" }
        #expect(results.allSatisfy { $0.status == .submitted && $0.creationID == task?.uniqueID }, "\(id): \(results.map { "\($0.status) \($0.error?.code.rawValue ?? "") \($0.error?.message ?? "") replayed=\($0.replayed ?? false)" })")
    }
}

@Suite("No paid duplicates end to end", .serialized)
struct LedgerTests {
    @Test("a request seen again is answered from the ledger; the same request_id with another body is a conflict", .timeLimit(.minutes(2)))
    func replayAndConflict() async throws {
        let harness = try await WorkerHarness(partitions: 1)
        try await harness.run(within: 100, "replayAndConflict") {
            try await harness.kafka.produce([requestJSON(id: "twice"), requestJSON(id: "twice"), requestJSON(id: "twice", prompt: "another body")])
            let (worker, run) = try await harness.startWorker()
            let results = try await harness.results(atLeast: 3, within: 60)
            await worker.shutdown()
            try await run.value
            let sorted = results.sorted { $0.0.offset < $1.0.offset }.map(\.1)
            #expect(sorted.count == 3)
            #expect(sorted[0].status == .submitted && sorted[0].replayed == nil)
            #expect(sorted[1].status == .submitted && sorted[1].replayed == true && sorted[1].creationID == sorted[0].creationID)
            #expect(sorted[2].status == .rejected && sorted[2].error?.code == .requestIDConflict && sorted[2].error?.field == "request_id")
            #expect(harness.simulator.tasks.count == 1, "Chanjing was called once")
        }
    }

    @Test("the worker binary SIGKILLed four times with hundreds in flight: one task per request, results agree", .timeLimit(.minutes(4)))
    func killsWithHundredsInFlight() async throws {
        let harness = try await WorkerHarness(simulator: SimulatorConfiguration(submitLatency: 1.0...2.5))
        try await harness.run(within: 230, "killsWithHundredsInFlight") {
            let ids = (0..<1_000).map { "kill-\($0)" }
            try await harness.kafka.produce(ids.map { requestJSON(id: $0) })
            let environment = ["MAX_IN_FLIGHT": "150"]
            for _ in 0..<4 {
                let worker = try harness.startWorkerProcess(extraEnvironment: environment)
                defer { worker.signal(SIGKILL) }
                // Once this worker is submitting, up to 150 calls are in flight: kill it then.
                let created = harness.simulator.tasks.count
                try await eventually(30, "the worker submits") { harness.simulator.tasks.count >= min(ids.count, created + 30) }
                try await Task.sleep(for: .milliseconds(Int.random(in: 300...1_500)))
                worker.signal(SIGKILL)
                _ = await worker.waitForExit(within: 10)
            }
            let last = try harness.startWorkerProcess(extraEnvironment: environment)
            defer { last.signal(SIGKILL) }
            try await eventually(150, "all offsets committed") {
                try await harness.kafka.committedOffsets(group: harness.group).values.reduce(0) { $0 + max(0, $1) } == Int64(ids.count)
            }
            last.signal(SIGTERM)
            let (status, output) = await last.waitForExit(within: 30)
            #expect(status == 0, "\(output.suffix(2_000))")
            let results = try await harness.results(atLeast: ids.count, within: 30, settle: .seconds(1))
            expectOneTaskPerRequest(ids, results: results, simulator: harness.simulator)
            #expect(results.contains { $0.1.replayed == true || $0.1.reconciled == true }, "the kills left work for the ledger")
        }
    }

    @Test("two workers, members joining and leaving, 20% of submits answered ambiguously after creating: one task per request", .timeLimit(.minutes(3)))
    func ambiguousAnswersAndRebalances() async throws {
        let faults = SimulatedFaults(http502AfterCreating: 0.1, hangAfterCreating: 0.1, hangSeconds: 2)
        let harness = try await WorkerHarness(partitions: 4, simulator: SimulatorConfiguration(submitLatency: 0.02...0.08, faults: faults))
        try await harness.run(within: 170, "ambiguousAnswersAndRebalances") {
            let ids = (0..<300).map { "amb-\($0)" }
            try await harness.kafka.produce(ids.map { requestJSON(id: $0) })
            var configuration = harness.configuration
            configuration.maxInFlight = 16
            configuration.chanjing.requestTimeout = .seconds(1)
            configuration.retry = RetryPolicy(maxAttempts: 10, maxElapsed: .seconds(60), initialBackoff: .milliseconds(20), maxBackoff: .milliseconds(200))
            // One token for the three workers, as a real pool shares one (see "One token for the pool").
            let credentials = try harness.sharedToken()
            let (first, firstRun) = try await harness.startWorker(configuration, credentials: credentials)
            _ = try await harness.results(atLeast: 30, within: 40)
            let (second, secondRun) = try await harness.startWorker(configuration, credentials: credentials)  // joins
            _ = try await harness.results(atLeast: 120, within: 60)
            await first.shutdown()  // leaves
            try await firstRun.value
            let (third, thirdRun) = try await harness.startWorker(configuration, credentials: credentials)  // joins again
            let results = try await harness.results(atLeast: ids.count, within: 100)
            try await eventually(30, "all offsets committed") {
                try await harness.kafka.committedOffsets(group: harness.group).values.reduce(0) { $0 + max(0, $1) } == Int64(ids.count)
            }
            await second.shutdown()
            await third.shutdown()
            try await secondRun.value
            try await thirdRun.value
            let all = try await harness.results(atLeast: results.count, within: 20, settle: .seconds(1))
            expectOneTaskPerRequest(ids, results: all, simulator: harness.simulator)
            #expect(harness.simulator.stats.injectedFailures > 0)
            #expect(all.contains { $0.1.reconciled == true }, "ambiguous answers were reconciled")
        }
    }

    @Test("two worker binaries, SIGKILLed in turn, with 20% of submits answered ambiguously after creating: one task per request", .timeLimit(.minutes(4)))
    func twoBinariesKilledWithAmbiguousAnswers() async throws {
        let faults = SimulatedFaults(http502AfterCreating: 0.1, hangAfterCreating: 0.1, hangSeconds: 6)
        let harness = try await WorkerHarness(partitions: 4, simulator: SimulatorConfiguration(submitLatency: 0.2...0.8, faults: faults))
        try await harness.run(within: 230, "twoBinariesKilledWithAmbiguousAnswers") {
            let ids = (0..<400).map { "both-\($0)" }
            try await harness.kafka.produce(ids.map { requestJSON(id: $0) })
            // One token for both, as a pool shares one; app credentials would make them fight.
            guard case .accessToken(let token) = try harness.sharedToken() else { return }
            let environment = ["MAX_IN_FLIGHT": "50", "CHANJING_APP_ID": "", "CHANJING_SECRET_KEY": "", "CHANJING_ACCESS_TOKEN": token]
            var workers = [try harness.startWorkerProcess(extraEnvironment: environment), try harness.startWorkerProcess(extraEnvironment: environment)]
            defer { for worker in workers { worker.signal(SIGKILL) } }
            for round in 0..<4 {
                let created = harness.simulator.tasks.count
                try await eventually(40, "the pool submits") { harness.simulator.tasks.count >= min(ids.count, created + 20) }
                try await Task.sleep(for: .milliseconds(Int.random(in: 300...1_500)))
                let victim = round % 2
                workers[victim].signal(SIGKILL)
                _ = await workers[victim].waitForExit(within: 10)
                workers[victim] = try harness.startWorkerProcess(extraEnvironment: environment)
            }
            try await eventually(150, "all offsets committed") {
                try await harness.kafka.committedOffsets(group: harness.group).values.reduce(0) { $0 + max(0, $1) } == Int64(ids.count)
            }
            for worker in workers { worker.signal(SIGTERM) }
            for worker in workers { _ = await worker.waitForExit(within: 30) }
            let results = try await harness.results(atLeast: ids.count, within: 30, settle: .seconds(1))
            expectOneTaskPerRequest(ids, results: results, simulator: harness.simulator)
            #expect(harness.simulator.stats.injectedFailures > 0)
        }
    }
}
