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
        let harness = try await WorkerHarness(partitions: 4, simulator: SimulatorConfiguration(tokenLifetime: .seconds(3), submitLatency: 0.01...0.05))
        try await harness.run(within: 170, "pool of 4") {
            let workers = try (0..<4).map { _ in try harness.startWorkerProcess() }
            let started = ContinuousClock.now
            var sent = 0
            // 20 requests a second for 32 s: more than 10 token lifetimes.
            while ContinuousClock.now - started < .seconds(32) {
                try await harness.kafka.produce((0..<20).map { requestJSON(id: "pool-\(sent + $0)") }, keys: (0..<20).map { "k\(sent + $0)" })
                sent += 20
                try await Task.sleep(for: .milliseconds(1000))
            }
            let elapsed = ContinuousClock.now - started
            let results = try await harness.results(atLeast: sent, within: 60, settle: .seconds(1))
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
            let results = try await harness.results(atLeast: sent, within: 90)
            #expect(Set(results.map(\.1.requestID)).count == sent, "work resumes once the outside fetcher stops")
            #expect(results.allSatisfy { $0.1.status == .submitted }, "\(results.filter { $0.1.status != .submitted }.map { $0.1.error?.message ?? "" })")
            await worker.shutdown()
            try await running.value
        }
    }
}
