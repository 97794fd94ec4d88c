import ArgumentParser
import ChanjingSimulator
import Foundation
import Kafka
import Ledger
import Logging
import VideoContract

/// `chanjing-worker bench`: the throughput benchmark. The mock cluster and the simulator run in
/// this process; the worker runs as a child process (this same binary's `run`), so its own CPU
/// time and peak memory are what is reported. Build with `-c release`.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure the worker's throughput, latency, CPU and memory (run a release build)."
    )

    @Option(help: "Scenarios to run, comma-separated (1-10; 6 runs pools of 1, 2, 4 and 8 workers; 7 follows tasks to their video; 10 holds requests through an outage).") var scenarios = "1,2,3,4,5"
    @Option(help: "Partitions of the benchmark topics (the mock cluster keeps about 5 MiB per partition).") var partitions = 32
    @Option(help: "Log level of the benchmark and the worker (standard error).") var logLevel: Logger.Level = .error
    @Option(help: "The worker's submission ledger, on or off (to measure its cost).") var ledger = "on"
    @Option(help: "A librdkafka property `key=value` for the worker (repeatable; passed as its `--kafka`), to measure a setting.")
    var workerKafka: [String] = []
    @Option(help: "Requests per scenario instead of each scenario's own number: a quick check that the benchmark runs (the figures need the defaults).")
    var requests: Int?

    func validate() throws {
        if let requests, requests < 10 { throw ValidationError("--requests must be at least 10 (the first and last tenth are warm-up and drain)") }
    }

    func run() async throws {
        LogSetup.bootstrap(level: logLevel)
        let logger = Logger(label: "bench")
        let selected = Set(scenarios.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) })
        printLine("chanjing-worker benchmark — \(ProcessInfo.processInfo.activeProcessorCount) cores, \(ProcessInfo.processInfo.physicalMemory / 1_073_741_824) GiB, \(partitions) partitions per topic")
        #if DEBUG
            printLine("warning: this is a debug build; figures are only meaningful from `swift run -c release chanjing-worker bench`")
        #endif
        let wakeUp = await WakeUpCost.measure()
        printLine(String(format: "waking a sleeping thread costs %.1f µs of CPU here (two threads handing over to each other)", wakeUp / .microseconds(1)))
        for var scenario in BenchScenario.all where selected.contains(scenario.number) {
            if let requests {
                // The ledger scaled with the requests, so that a quick check stays quick.
                if case .coldStart(let entries) = scenario.measure { scenario.measure = .coldStart(ledgerEntries: entries / scenario.requests * requests) }
                if case .outage = scenario.measure { scenario.measure = .outage(seconds: 15, from: 10) }
                scenario.requests = requests
            }
            try await BenchRun(
                scenario: scenario, partitions: partitions, ledger: ledger, workerKafka: workerKafka, logLevel: logLevel, wakeUpCost: wakeUp, logger: logger
            ).run()
        }
    }
}

/// One scenario's run: set up, preload, start the worker, measure, tear down, print.
struct BenchRun {
    let scenario: BenchScenario
    let partitions: Int
    let ledger: String
    /// The worker's extra `--kafka` properties (its environment's `KAFKA_*` variables are not
    /// passed on, so that the benchmark's own settings hold).
    let workerKafka: [String]
    let logLevel: Logger.Level
    /// ``WakeUpCost`` on this machine, to read the worker's context switches against its CPU.
    let wakeUpCost: Duration
    let logger: Logger

    func run() async throws {
        let settings = workerKafka.isEmpty ? "" : ", worker --kafka \(workerKafka.joined(separator: " "))"
        printLine("\n## Scenario \(scenario.number): \(scenario.title) (ledger \(ledger)\(settings))\ntarget: \(scenario.target)")
        if scenario.workers > 1 { printLine("token fetches and 40001 answers are the pool's; CPU is summed over its \(scenario.workers) workers") }
        let cluster = try MockCluster(brokers: 1, logger: logger)
        for topic in ["requests", "results", "ledger", "completions", "ceiling-results"] { try cluster.createTopic(topic, partitions: partitions) }
        try cluster.createTopic("coordination", partitions: 1)
        var simulation = SimulatorConfiguration(submitLatency: scenario.latency...scenario.latency, qpsLimit: scenario.qpsQuota)
        if case .tracking(let renderTime, _, _) = scenario.measure { simulation.renderTime = renderTime }
        if case .outage = scenario.measure { simulation.failureRate = 1 }
        let simulator = ChanjingSimulator(configuration: simulation)
        let server = try await SimulatorServer.start(simulator, logger: logger)

        try await preload(brokers: cluster.bootstrapServers)
        var workerLog: URL?
        if case .coldStart(let entries) = scenario.measure {
            try await preloadLedger(entries, brokers: cluster.bootstrapServers)
            workerLog = FileManager.default.temporaryDirectory.appendingPathComponent("bench-worker-\(ProcessInfo.processInfo.processIdentifier).log")
            _ = FileManager.default.createFile(atPath: workerLog!.path, contents: nil)
        }
        defer { if let workerLog { try? FileManager.default.removeItem(at: workerLog) } }
        if case .completion = scenario.measure, scenario.number == 1 {
            let ceiling = try await CeilingLoop.measure(
                brokers: cluster.bootstrapServers, topic: "requests", resultsTopic: "ceiling-results", count: scenario.requests, logger: logger
            )
            printLine("ceiling (bare librdkafka consume-produce loop, same run): \(Int(ceiling)) requests/s")
        }
        let collector = try await TopicReader(
            topic: "results", from: .beginning, properties: KafkaProperties(["bootstrap.servers": cluster.bootstrapServers]), timeout: .seconds(10), logger: logger
        ) { ResultSample($0) }
        // A pool's processes share this machine's cores: with 6 s sessions a busy member misses
        // heartbeats and the group rebalances, which the mock cluster may never finish
        // (docs/benchmarks.md, scenario 6). Production keeps librdkafka's 45 s default.
        let launched = Date()
        let workers = try (0..<scenario.workers).map { _ in try ChildProcess(
            executable: URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath(),
            arguments: ["run"] + scenario.workerArguments + workerKafka.flatMap { ["--kafka", $0] },
            environment: [
                "KAFKA_BROKERS": cluster.bootstrapServers, "REQUESTS_TOPIC": "requests", "RESULTS_TOPIC": "results",
                "KAFKA_GROUP_ID": "bench-worker", "CHANJING_BASE_URL": server.baseURL, "CHANJING_APP_ID": "sim-app",
                "CHANJING_SECRET_KEY": "sim-secret", "LOG_LEVEL": logLevel.rawValue, "KAFKA_PROP_SESSION_TIMEOUT_MS": scenario.workers > 1 ? "20000" : "6000", "HTTP_PORT": "0",
                "LEDGER": ledger, "LEDGER_TOPIC": "ledger", "COORDINATION_TOPIC": "coordination",
                "TRACK": scenario.tracks ? "on" : "off", "COMPLETIONS_TOPIC": "completions",
            ].merging(workerLog == nil ? [:] : ["LOG_LEVEL": "info", "LOG_FORMAT": "json"]) { $1 },
            standardError: try workerLog.map { try FileHandle(forWritingTo: $0) }
        ) }
        let worker = workers[0]
        let started = ContinuousClock.now
        switch scenario.measure {
        case .completion:
            try await measureCompletion(worker: worker, collector: collector, simulator: simulator, started: started)
        case .sustainedRate(let seconds, let from):
            try await measureRate(workers: workers, simulator: simulator, seconds: seconds, from: from)
        case .tracking(_, let firstCheck, let interval):
            try await measureTracking(
                worker: worker, collector: collector, simulator: simulator, brokers: cluster.bootstrapServers, firstCheck: firstCheck, interval: interval
            )
        case .coldStart:
            try await measureColdStart(collector: collector, launched: launched, log: workerLog!)
        case .outage(let seconds, let from):
            try await measureOutage(worker: worker, collector: collector, simulator: simulator, seconds: seconds, from: from)
        case .memory(let seconds):
            try await Task.sleep(for: .seconds(seconds))
            // In flight = result rate × latency, over the time results have been arriving.
            let samples = collector.records
            let flowing = samples.first.map { ContinuousClock.now - $0.arrival } ?? .zero
            let rate = Double(samples.count) / max(0.001, flowing / .seconds(1))
            printLine(String(format: "peak RSS %.1f MiB | %d results in %.0f s; since the first result %.0f/s, so about %.0f in flight at %.1f s latency | backlog left %d",
                             worker.peakRSSMiB, samples.count, seconds, rate, rate * scenario.latency, scenario.latency, scenario.requests - samples.count))
        }
        for worker in workers {
            let status = await worker.stop(within: 60)
            if status != 0 { printLine("warning: a worker exited with status \(status)") }
        }
        await collector.stop()
        await server.stop()
        await cluster.shutdown()
    }

    /// Produces the scenario's requests and checks that every one was stored.
    private func preload(brokers: String) async throws {
        let producer = try KafkaProducer(properties: KafkaProperties(["bootstrap.servers": brokers, "linger.ms": "20"]), logger: logger)
        var highest: [Int32: Int64] = [:]
        let batch = 2_000
        for start in stride(from: 0, to: scenario.requests, by: batch) {
            let reports = try await withThrowingTaskGroup(of: DeliveryReport.self) { group in
                for index in start..<min(start + batch, scenario.requests) {
                    let body = #"{"request_id":"bench-\#(index)","ref_prompt":"Benchmark request \#(index): a slow pan across a neon-lit street in the rain"}"#
                    group.addTask {
                        try await producer.send(OutgoingMessage(topic: "requests", key: Array("k\(index)".utf8), value: Array(body.utf8)))
                    }
                }
                return try await group.reduce(into: [DeliveryReport]()) { $0.append($1) }
            }
            for report in reports { highest[report.partition] = max(highest[report.partition] ?? -1, report.offset) }
        }
        await producer.shutdown()
        let stored = highest.values.reduce(0) { $0 + Int($1) + 1 }
        guard stored == scenario.requests else {
            throw ValidationError("preloaded \(scenario.requests) requests but the partitions hold \(stored): raise --partitions")
        }
        printLine("preloaded \(stored) requests")
    }

    /// Writes `count` ledger entries of requests that will not come (another pool's outcomes), in
    /// records of 20 across the partitions, as the worker writes them.
    private func preloadLedger(_ count: Int, brokers: String) async throws {
        let producer = try KafkaProducer(properties: KafkaProperties(["bootstrap.servers": brokers, "linger.ms": "20"]), logger: logger)
        let perRecord = 20
        let at = LedgerEntry.now()
        for start in stride(from: 0, to: count, by: 20_000) {
            try await withThrowingTaskGroup(of: DeliveryReport.self) { group in
                for first in stride(from: start, to: min(start + 20_000, count), by: perRecord) {
                    let entries = (first..<min(first + perRecord, count)).map { index in
                        LedgerEntry(
                            kind: .outcome, requestID: "earlier-\(index)", bodyHash: LedgerEntry.hashText(UInt64(index + 1)), at: at, status: .submitted,
                            creationID: UUID().uuidString.lowercased(), attempts: 1, chanjingTraceID: String(repeating: "ab", count: 16), intentAt: at
                        ).encoded()
                    }
                    let message = OutgoingMessage(
                        topic: "ledger", partition: Int32(first / perRecord % partitions), key: Array("bench/\(first)".utf8), value: LedgerEntry.record(entries)
                    )
                    group.addTask { try await producer.send(message) }
                }
                try await group.waitForAll()
            }
        }
        await producer.shutdown()
        printLine("preloaded \(count) ledger entries in \(count / perRecord) records")
    }

    /// The time from the worker's start, and from its group assignment (its JSON log), to its
    /// first result, once every result has arrived.
    private func measureColdStart(collector: TopicReader<ResultSample>, launched: Date, log: URL) async throws {
        guard await collector.wait(for: scenario.requests, within: .seconds(300)) else { throw ValidationError("results stopped arriving") }
        // The record's timestamp, not its arrival here: the reader's fetches wait up to 500 ms.
        guard let firstWall = collector.records.compactMap(\.produced).min() else { throw ValidationError("results without a timestamp") }
        let lines = try String(contentsOf: log, encoding: .utf8).split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        func line(_ message: String) -> [String: Any]? { lines.first { $0["message"] as? String == message } }
        let format = Date.ISO8601FormatStyle(includingFractionalSeconds: true)
        guard let assigned = (line("Partitions assigned")?["timestamp"] as? String).flatMap({ try? format.parse($0) }) else {
            throw ValidationError("the worker logged no assignment")
        }
        let read = line("Ledger partitions read")
        printLine(String(format: "start → group assignment %.2f s | group assignment → first result %.2f s | start → first result %.2f s",
                         assigned.timeIntervalSince(launched), firstWall.timeIntervalSince(assigned), firstWall.timeIntervalSince(launched)))
        printLine("ledger read on assignment: \(read?["entries"] ?? "?") entries in \(read?["records"] ?? "?") records, took \(read?["took"] ?? "?")")
        printLine("results \(collector.records.count)")
    }

    private func measureCompletion(worker: ChildProcess, collector: TopicReader<ResultSample>, simulator: ChanjingSimulator, started: ContinuousClock.Instant) async throws {
        let total = scenario.requests
        let tenth = total / 10
        guard await collector.wait(for: tenth, within: .seconds(120)) else { throw ValidationError("the worker did not get going") }
        let cpuAtWarmup = worker.cpuSeconds
        let switchesAtWarmup = worker.voluntaryContextSwitches
        let ownCPUAtWarmup = ChildProcess.cpuSeconds(of: "self")
        guard await collector.wait(for: total - tenth, within: .seconds(600)) else { throw ValidationError("results stopped arriving") }
        let cpuAtEnd = worker.cpuSeconds
        let switchesAtEnd = worker.voluntaryContextSwitches
        let ownCPUAtEnd = ChildProcess.cpuSeconds(of: "self")
        let samples = await collector.wait(within: .seconds(60)) { $0.count >= total }
        let steady = samples[tenth..<(total - tenth)]
        let window = steady.last!.arrival - steady.first!.arrival
        let rate = Double(steady.count) / max(0.001, window / .seconds(1))
        // Over the steady state, like the rate and the CPU: the warm-up's group join and first
        // lookups are not the worker's per-request latency.
        let latencies = steady.compactMap(\.latencyMilliseconds).sorted()
        func percentile(_ p: Double) -> Double { latencies.isEmpty ? .nan : latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))] }
        let cpuPerThousand = (cpuAtEnd - cpuAtWarmup) / Double(steady.count) * 1000
        printLine("warm-up: the first 10% of results; steady state: results 10%–90%")
        printLine(String(format: "requests/s %.0f | latency p50 %.1f ms, p99 %.1f ms | CPU %.3f s per 1,000 requests (%.3f ms each) | peak RSS %.1f MiB",
                         rate, percentile(0.5), percentile(0.99), cpuPerThousand, cpuPerThousand, worker.peakRSSMiB))
        // Scenario 1 is bound by the machine's two cores, which this process shares with the worker.
        let ownPerRequest = (ownCPUAtEnd - ownCPUAtWarmup) / Double(steady.count) * 1000
        printLine(String(format: "CPU of this process (simulator, mock cluster, result reader) %.3f ms per request; with the worker's, %.3f ms",
                         ownPerRequest, ownPerRequest + cpuPerThousand))
        // Threads that exited during the window take their counts along: a lower bound.
        let switchesPerRequest = Double(switchesAtEnd - switchesAtWarmup) / Double(steady.count)
        printLine(String(format: "voluntary context switches of the worker: %.1f per request; at %.1f µs a wake-up, %.3f ms of its CPU per request",
                         switchesPerRequest, wakeUpCost / .microseconds(1), wakeUpCost * switchesPerRequest / .milliseconds(1)))
        if let ideal = scenario.idealRate {
            printLine(String(format: "%.1f%% of the ideal %.0f requests/s (calls in flight / latency)", rate / ideal * 100, ideal))
        }
        printLine("results \(samples.count) (\(samples.filter(\.submitted).count) submitted) | 40001 answers \(simulator.stats.throttled) | total time \(String(format: "%.1f", (ContinuousClock.now - started) / .seconds(1))) s")
    }

    /// Waits for every result, then for every completion; reports the task queries against the
    /// batch bound (each task read once per interval from its first check until it ends, 50 to
    /// a call), the delay from each task's end to its completion, and the worker's CPU from the
    /// last result to the last completion, per completion.
    private func measureTracking(
        worker: ChildProcess, collector: TopicReader<ResultSample>, simulator: ChanjingSimulator, brokers: String, firstCheck: Double, interval: Double
    ) async throws {
        let total = scenario.requests
        let completions = try await TopicReader(
            topic: "completions", from: .beginning, properties: KafkaProperties(["bootstrap.servers": brokers]), timeout: .seconds(10), logger: logger
        ) { try? VideoCompletion.decode($0.value) }
        let resultsArrived = await collector.wait(for: total, within: .seconds(300))
        let (cpuAtResults, rssAtResults) = (worker.cpuSeconds, worker.peakRSSMiB)
        let completionsArrived = resultsArrived ? await completions.wait(for: total, within: .seconds(300)) : false
        let cpuAtEnd = worker.cpuSeconds
        let received = await completions.stop()
        guard resultsArrived else { throw ValidationError("results stopped arriving") }
        guard completionsArrived else { throw ValidationError("completions stopped arriving (\(received.count) of \(total))") }
        let tasks = Dictionary(simulator.tasks.map { ($0.uniqueID, $0) }, uniquingKeysWith: { first, _ in first })
        // The ideal: in each interval every task past its first check and not yet ended is read once, 50 to a call.
        let windows = tasks.values.map { ($0.createdAt.timeIntervalSince1970 + firstCheck, $0.createdAt.timeIntervalSince1970 + max(firstCheck, $0.renderSeconds) + interval) }
        let start = windows.map(\.0).min() ?? 0
        let end = windows.map(\.1).max() ?? 0
        var bound = 0
        for slot in stride(from: start, to: end, by: interval) {
            let due = windows.filter { $0.0 <= slot && slot < $0.1 }.count
            bound += (due + 49) / 50
        }
        let delays = received.compactMap { completion -> Double? in
            guard let task = tasks[completion.creationID], let produced = try? Date(completion.producedAt, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true))
            else { return nil }
            return produced.timeIntervalSince(task.createdAt) - max(firstCheck, task.renderSeconds)
        }.sorted()
        func percentile(_ p: Double) -> Double { delays.isEmpty ? .nan : delays[min(delays.count - 1, Int(Double(delays.count) * p))] }
        let stats = simulator.stats
        let byStatus = Dictionary(grouping: received, by: \.status).mapValues(\.count)
        printLine(String(format: "task queries %d for %d completions (%.3f per completion) | batch bound %d (%.2f×) | at most %d IDs a query",
                         stats.taskQueries, received.count, Double(stats.taskQueries) / Double(max(1, received.count)), bound,
                         Double(stats.taskQueries) / Double(max(1, bound)), stats.mostIDsQueried))
        printLine(String(format: "delay from a task's end (or first check) to its completion: p50 %.2f s, p99 %.2f s, max %.2f s",
                         percentile(0.5), percentile(0.99), delays.last ?? .nan))
        printLine(String(format: "worker CPU from the last result to the last completion: %.3f ms per completion | peak RSS %.1f MiB (%.1f MiB when every request was submitted)",
                         (cpuAtEnd - cpuAtResults) / Double(max(1, received.count)) * 1000, worker.peakRSSMiB, rssAtResults))
        printLine("completions \(received.count): \(byStatus[.succeeded] ?? 0) succeeded, \(byStatus[.failed] ?? 0) failed, \(byStatus[.expired] ?? 0) expired")
    }

    /// The worker's context switches and CPU per second over the window, while Chanjing is down:
    /// with the circuit open, the requests held only wait, and every wake-up is overhead.
    private func measureOutage(
        worker: ChildProcess, collector: TopicReader<ResultSample>, simulator: ChanjingSimulator, seconds: Double, from: Double
    ) async throws {
        try await Task.sleep(for: .seconds(from))
        let (cpuBefore, switchesBefore, callsBefore) = (worker.cpuSeconds, worker.voluntaryContextSwitches, simulator.stats.submitCalls)
        try await Task.sleep(for: .seconds(seconds - from))
        let (cpuAfter, switchesAfter, callsAfter) = (worker.cpuSeconds, worker.voluntaryContextSwitches, simulator.stats.submitCalls)
        let window = seconds - from
        printLine(String(format: "window %.0f–%.0f s: voluntary context switches of the worker %.0f/s | CPU %.2f%% of a core | submit calls (probes) %d | peak RSS %.1f MiB",
                         from, seconds, Double(switchesAfter - switchesBefore) / window, (cpuAfter - cpuBefore) / window * 100,
                         callsAfter - callsBefore, worker.peakRSSMiB))
        printLine("results \(collector.records.count) (a request waiting for the circuit has none) | submit calls in all \(callsAfter)")
    }

    /// The pool's accepted rate and share of 40001 over the window; CPU summed over the workers,
    /// memory the largest worker's.
    private func measureRate(workers: [ChildProcess], simulator: ChanjingSimulator, seconds: Double, from: Double) async throws {
        try await Task.sleep(for: .seconds(from))
        let before = simulator.stats
        let windowStart = Date()
        try await Task.sleep(for: .seconds(seconds - from))
        let after = simulator.stats
        let window = seconds - from
        let accepted = Double(after.tasksCreated - before.tasksCreated)
        let calls = Double(after.submitCalls - before.submitCalls)
        let throttled = Double(after.throttled - before.throttled)
        let perSecond = Dictionary(grouping: simulator.tasks.filter { $0.createdAt >= windowStart }) { Int($0.createdAt.timeIntervalSince(windowStart)) }
            .filter { $0.key < Int(window) }.mapValues(\.count)
        printLine(String(format: "window %.0f–%.0f s: accepted %.2f/s | calls %.2f/s | 40001 %.1f%% of calls | busiest second %d calls | token fetches %d | CPU %.2f s | peak RSS %.1f MiB",
                         from, seconds, accepted / window, calls / window, calls > 0 ? throttled / calls * 100 : 0, perSecond.values.max() ?? 0, after.tokenFetches,
                         workers.reduce(0) { $0 + $1.cpuSeconds }, workers.map(\.peakRSSMiB).max() ?? 0))
        // Tells a stall (a rebalance, an open circuit) from a limit set too low.
        let tens = stride(from: 0, to: Int(window), by: 10).map { start in (start..<min(start + 10, Int(window))).reduce(0) { $0 + (perSecond[$1] ?? 0) } }
        printLine("accepted per 10 s of the window: \(tens.map(String.init).joined(separator: " "))")
    }
}
