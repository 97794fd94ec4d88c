/// One benchmark scenario: how the simulator behaves, how the worker is told to run, and what
/// is measured.
struct BenchScenario: Sendable {
    enum Measure: Sendable {
        /// Process all `requests` and report throughput, latency and CPU.
        case completion
        /// Run for `seconds`, then report the accepted submit rate from `from` seconds on.
        case sustainedRate(seconds: Double, from: Double)
        /// Run for `seconds` with a large backlog and report peak memory.
        case memory(seconds: Double)
        /// Process all `requests`, then follow every task to its end (renders take `renderTime`
        /// seconds; reads start `firstCheck` after the submit, every `interval`): report the
        /// task queries against the batch bound, the delay from a task's end to its completion,
        /// and the worker's CPU per completion.
        case tracking(renderTime: ClosedRange<Double>, firstCheck: Double, interval: Double)
        /// Start the worker with `ledgerEntries` entries already in the ledger topic (another
        /// pool's requests): report the time from its start, and from its group assignment, to
        /// its first result, and how long the ledger took to read.
        case coldStart(ledgerEntries: Int)
        /// Chanjing answers every submit 50000 (down): run for `seconds` and report the worker's
        /// context switches and CPU per second from `from` seconds on, with the circuit open
        /// and the requests held waiting for it.
        case outage(seconds: Double, from: Double)
    }

    var number: Int
    var title: String
    var requests: Int
    var latency: Double
    var qpsQuota: Double?
    var workerArguments: [String]
    var measure: Measure
    var target: String
    /// Worker processes in the pool (one consumer group, the same app credentials).
    var workers = 1

    /// Requests per second with every call slot always busy (`--max-in-flight` / latency), for
    /// scenarios bound by Chanjing's latency.
    var idealRate: Double? {
        guard latency > 0, case .completion = measure else { return nil }
        let inFlight = workerArguments.firstIndex(of: "--max-in-flight").flatMap { Double(workerArguments[$0 + 1]) } ?? 64
        return inFlight / latency
    }

    /// Whether the workers follow their tasks to the end (`--track`): only where that is what is
    /// measured, so that the other scenarios compare with the figures before tracking existed.
    var tracks: Bool {
        if case .tracking = measure { return true }
        return false
    }

    static let all: [BenchScenario] = [
        .init(number: 1, title: "simulator latency 0: the worker's own overhead", requests: 50_000, latency: 0, qpsQuota: nil,
              workerArguments: [], measure: .completion, target: "≥ 5,000 requests/s; ≤ 0.12 CPU-ms per request (issue 20; 0.2 before)"),
        .init(number: 2, title: "simulator latency 300 ms, --max-in-flight 512", requests: 20_000, latency: 0.3, qpsQuota: nil,
              workerArguments: ["--max-in-flight", "512"], measure: .completion, target: "≥ 90% of 512 / 0.3 s = 1,707 requests/s"),
        .init(number: 3, title: "simulator quota 50 QPS (burst 50, 40001 above), worker told nothing, 90 s", requests: 20_000, latency: 0, qpsQuota: 50,
              workerArguments: [], measure: .sustainedRate(seconds: 90, from: 10), target: "after 10 s: ≥ 45/s accepted and ≤ 5% of calls answered 40001"),
        .init(number: 4, title: "--max-qps 50, no simulator quota, 60 s", requests: 20_000, latency: 0, qpsQuota: nil,
              workerArguments: ["--max-qps", "50"], measure: .sustainedRate(seconds: 60, from: 10), target: "from 10 s (after the group join): within 2% of 50/s; no one-second window above 55 calls"),
        .init(number: 5, title: "memory: 2,000 in flight, 200,000-request backlog", requests: 200_000, latency: 2.0, qpsQuota: nil,
              workerArguments: ["--max-in-flight", "2000"], measure: .memory(seconds: 30), target: "peak RSS < 150 MiB"),
    ] + [1, 2, 4, 8].map { workers in
        .init(number: 6, title: "\(workers) worker(s), one pool, simulator quota 50 QPS, told nothing, 90 s", requests: 20_000, latency: 0, qpsQuota: 50,
              workerArguments: [], measure: .sustainedRate(seconds: 90, from: 20),
              target: "after 20 s (the group settled): the pool accepts ≥ 45/s with ≤ 5% of calls answered 40001", workers: workers)
    } + [
        .init(number: 7, title: "20,000 tasks followed to their video, renders 5–15 s, --track-interval 1", requests: 20_000, latency: 0, qpsQuota: nil,
              workerArguments: ["--track-first-check", "5", "--track-interval", "1"], measure: .tracking(renderTime: 5...15, firstCheck: 5, interval: 1),
              target: "task queries ≤ 1.2 × the batch bound; p99 delay from a task's end to its completion ≤ interval + 1 s; ≤ 1 KiB per task followed"),
        .init(number: 8, title: "simulator latency 100 ms, --max-in-flight 64 (about 600 requests/s)", requests: 10_000, latency: 0.1, qpsQuota: nil,
              workerArguments: [], measure: .completion, target: "≥ 95% of 64 / 0.1 s = 640 requests/s; ≤ 0.20 CPU-ms per request"),
        .init(number: 9, title: "cold start: a new worker takes every partition of a ledger holding 200,000 entries", requests: 2_000, latency: 0, qpsQuota: nil,
              workerArguments: [], measure: .coldStart(ledgerEntries: 200_000), target: "first result within 1 s of the group assignment"),
        .init(number: 10, title: "Chanjing down (every submit answered 50000), 64 requests held through the outage, 60 s", requests: 2_000, latency: 0, qpsQuota: nil,
              // A short drain: the requests still waiting at the end are redelivered, not waited for.
              workerArguments: ["--submit-timeout", "5", "--drain-timeout", "6"], measure: .outage(seconds: 60, from: 30),
              target: "requests waiting for the circuit cost no wake-ups: context switches and CPU of an idle worker (about 36/s and 0.5% of a core here)"),
    ]
}
