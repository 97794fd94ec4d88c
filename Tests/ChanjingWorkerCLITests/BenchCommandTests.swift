import Foundation
import Testing
import TestSupport

/// `bench` is how the throughput, CPU and ledger-cost figures in docs/benchmarks.md are made: it
/// runs here as the real binary, with few requests, so a change that breaks it is caught.
@Suite("Benchmark command", .serialized)
struct BenchCommandTests {
    @Test("bench runs scenarios 1 and 2 end to end and prints their figures", .timeLimit(.minutes(3)))
    func scenariosOneAndTwo() async throws {
        let process = try WorkerProcess(arguments: ["bench", "--scenarios", "1,2", "--requests", "2000", "--partitions", "4"], environment: [:])
        let (status, output) = await process.waitForExit(within: 150)
        #expect(status == 0, "\(output)")
        #expect(!output.contains("warning: the worker exited with status"), "\(output)")

        // The machine's wake-up cost, measured once, is what the context switches are read against.
        let wakeUp = try #require(Self.number(after: "waking a sleeping thread costs ", in: output), "\(output)")
        #expect(wakeUp > 0, "\(output)")
        let scenarios = output.components(separatedBy: "\n## Scenario ").dropFirst()
        #expect(scenarios.map { $0.prefix(1) } == ["1", "2"], "\(output)")
        for scenario in scenarios {
            #expect(scenario.contains("(ledger on)"), "the ledger is on by default: \(scenario)")
            #expect(scenario.contains("preloaded 2000 requests"), "\(scenario)")
            // Every request got its result, and every one was a submit (the simulator accepts all).
            // Enough requests that the worker's CPU time (read in clock ticks) is more than zero.
            #expect(scenario.contains("results 2000 (2000 submitted)"), "\(scenario)")
            let rate = try #require(Self.number(after: "requests/s ", in: scenario), "\(scenario)")
            let cpu = try #require(Self.number(after: "ms per request; with the worker's, ", in: scenario), "\(scenario)")
            #expect(rate > 0 && cpu > 0, "\(scenario)")
            let inWakeUps = try #require(Self.number(after: " a wake-up, ", in: scenario), "\(scenario)")
            #expect(inWakeUps > 0, "\(scenario)")
        }
        let ceiling = try #require(Self.number(after: "ceiling (bare librdkafka consume-produce loop, same run): ", in: String(scenarios.first ?? "")))
        #expect(ceiling > 0)
    }

    @Test("bench scenario 9 preloads the ledger and prints the times to the first result", .timeLimit(.minutes(2)))
    func coldStart() async throws {
        let process = try WorkerProcess(arguments: ["bench", "--scenarios", "9", "--requests", "200", "--partitions", "4"], environment: [:])
        let (status, output) = await process.waitForExit(within: 100)
        #expect(status == 0, "\(output)")
        #expect(output.contains("preloaded 20000 ledger entries in 1000 records"), "\(output)")
        #expect(output.contains("ledger read on assignment: 20000 entries in 1000 records"), "\(output)")
        let toFirst = try #require(Self.number(after: "group assignment → first result ", in: output), "\(output)")
        #expect(toFirst > 0 && toFirst < 60, "\(output)")
        #expect(output.contains("results 200"), "\(output)")
    }

    @Test("bench scenario 10 holds requests through an outage and prints the worker's wake-ups meanwhile", .timeLimit(.minutes(2)))
    func outage() async throws {
        let process = try WorkerProcess(arguments: ["bench", "--scenarios", "10", "--requests", "200", "--partitions", "4"], environment: [:])
        let (status, output) = await process.waitForExit(within: 100)
        #expect(status == 0, "\(output)")
        let switches = try #require(Self.number(after: "voluntary context switches of the worker ", in: output), "\(output)")
        #expect(switches > 0, "\(output)")
        // The circuit opened after 20 failures in a row: the window's calls are its probes.
        let probes = try #require(Self.number(after: "submit calls (probes) ", in: output), "\(output)")
        #expect(probes < 10, "\(output)")
        #expect(output.contains("results 0 "), "no request is burnt into a failed result while Chanjing is down: \(output)")
    }

    @Test("bench refuses fewer than 10 requests with one line naming the option", .timeLimit(.minutes(1)))
    func refusesTooFewRequests() async throws {
        let process = try WorkerProcess(arguments: ["bench", "--requests", "5"], environment: [:])
        let (status, output) = await process.waitForExit(within: 30)
        #expect(status != 0)
        #expect(output.contains("--requests must be at least 10"), "\(output)")
    }

    /// The number printed right after `label` in `text`.
    private static func number(after label: String, in text: String) -> Double? {
        guard let range = text.range(of: label) else { return nil }
        return Double(text[range.upperBound...].prefix { $0.isNumber || $0 == "." })
    }
}
