import ChanjingSimulator
import Foundation
import Testing
import TestSupport
import VideoContract

/// The pool survives its own churn: members killed, stopped and restarted while requests flow and
/// Chanjing's task list cannot be searched, and no request is paid for twice.
@Suite("Pool churn", .serialized)
struct PoolChurnTests {
    @Test("8 worker processes, two SIGKILLs and a SIGTERM (each followed by a restart) while the task list is down: every request answered, none paid twice", .timeLimit(.minutes(4)))
    func churnWithoutPaidDuplicates() async throws {
        let harness = try await WorkerHarness(partitions: 16, simulator: SimulatorConfiguration(submitLatency: 0.1...0.1))
        try await harness.run(within: 230, "pool churn") {
            let count = 3_000
            try await harness.kafka.produce((0..<count).map { requestJSON(id: "churn-\($0)") }, keys: (0..<count).map { "k\($0)" })
            var workers = try (0..<8).map { _ in try harness.startWorkerProcess(extraEnvironment: ["MAX_IN_FLIGHT": "16", "MAX_QPS": "15"]) }
            let started = ContinuousClock.now
            func at(_ seconds: Int) async throws {
                let wait = started + .seconds(seconds) - .now
                if wait > .zero { try await Task.sleep(for: wait) }
            }
            try await at(6)
            harness.simulator.configure { $0.taskListDown = true }
            for (second, index, signal) in [(7, 0, SIGKILL), (11, 3, SIGKILL), (15, 5, SIGTERM)] {
                try await at(second)
                workers[index].signal(signal)
                _ = await workers[index].waitForExit(within: 20)
                try await at(second + 2)
                workers[index] = try harness.startWorkerProcess(extraEnvironment: ["MAX_IN_FLIGHT": "16", "MAX_QPS": "15"])
            }
            try await at(24)
            harness.simulator.configure { $0.taskListDown = false }

            let results = try await harness.results(forEvery: count, within: 150, settle: .seconds(2))
            for worker in workers { worker.signal(SIGTERM) }
            for worker in workers { _ = await worker.waitForExit(within: 30) }

            let byRequest = Dictionary(grouping: results.map(\.1), by: \.requestID)
            #expect(byRequest.count == count, "every request has a result")
            let failed = results.map(\.1).filter { $0.status != .submitted }
            #expect(failed.isEmpty, "none failed: \(failed.prefix(3).map { "\($0.requestID): \($0.error?.message ?? "")" })")
            let paidTwice = Dictionary(grouping: harness.simulator.tasks, by: \.prompt).filter { $0.value.count > 1 }
            #expect(paidTwice.isEmpty, "\(paidTwice.count) requests were paid for twice: \(paidTwice.keys.prefix(3))")
            // Every result of one request names the same task.
            let disagreeing = byRequest.filter { Set($0.value.compactMap(\.creationID)).count > 1 }
            #expect(disagreeing.isEmpty, "\(disagreeing.count) requests have results naming different tasks")
            print("pool churn: \(results.count) results for \(count) requests in \(ContinuousClock.now - started), \(harness.simulator.tasks.count) tasks")
        }
    }
}
