import ChanjingSimulator
import Foundation
import Kafka
import Testing
import TestSupport
import VideoContract
import Worker

@Suite("Metrics, health and readiness end to end", .serialized)
struct OperationsEndpointTests {
    @Test("/metrics counts what happened, /healthz and /readyz answer, lag series follow the assignment", .timeLimit(.minutes(2)))
    func endpoints() async throws {
        let harness = try await WorkerHarness(partitions: 3, simulator: SimulatorConfiguration(submitLatency: 0.005...0.01))
        try await harness.run(within: 110, "endpoints") {
            let valid = 18
            // Every partition gets requests (keyless records may all land on one), so every
            // partition has a committed offset and a known lag.
            for partition in 0..<3 {
                try await harness.kafka.produce((0..<valid / 3).map { requestJSON(id: "ops-\(partition)-\($0)") }, partition: Int32(partition))
            }
            try await harness.kafka.produce([#"{"request_id":"bad-1"}"#, "not json"], partition: 0)
            var configuration = harness.configuration
            configuration.httpPort = 0
            configuration.statisticsInterval = .milliseconds(300)
            let (worker, run) = try await harness.startWorker(configuration)
            let port = try #require(await worker.httpPort())
            let base = "http://127.0.0.1:\(port)"
            _ = try await harness.results(atLeast: valid + 2, within: 60)

            #expect(try await httpGet("\(base)/healthz").status == 200)
            try await eventually(20, "ready") { try await httpGet("\(base)/readyz").status == 200 }

            let topic = harness.kafka.requestsTopic
            // Lag statistics arrive every 300 ms; all three partitions are consumed to the end.
            try await eventually(20, "lag of every partition is 0") {
                let metrics = try await httpGet("\(base)/metrics").body
                return (0..<3).allSatisfy { prometheusValue(#"chanjing_worker_consumer_lag_messages{topic="\#(topic)",partition="\#($0)"}"#, in: metrics) == 0 }
            }
            let metrics = try await httpGet("\(base)/metrics").body
            #expect(prometheusValue(#"chanjing_worker_requests_consumed_total{topic="\#(topic)"}"#, in: metrics) == Double(valid + 2))
            #expect(prometheusValue(#"chanjing_worker_results_total{status="submitted",code="none"}"#, in: metrics) == Double(valid))
            #expect(prometheusValue(#"chanjing_worker_results_total{status="rejected",code="missing_field"}"#, in: metrics) == 1)
            #expect(prometheusValue(#"chanjing_worker_results_total{status="rejected",code="invalid_json"}"#, in: metrics) == 1)
            #expect(prometheusValue(#"chanjing_worker_chanjing_calls_total{code="0"}"#, in: metrics) == Double(valid))
            #expect(prometheusValue("chanjing_worker_submit_duration_seconds_count", in: metrics) == Double(valid))
            #expect(prometheusValue(#"chanjing_worker_token_refreshes_total{outcome="success"}"#, in: metrics) == 1)
            #expect(prometheusValue("chanjing_worker_token_available", in: metrics) == 1)
            #expect(prometheusValue("chanjing_worker_circuit_open", in: metrics) == 0)
            #expect(prometheusValue("chanjing_worker_requests_in_flight", in: metrics) == 0)
            #expect(prometheusValue("chanjing_worker_paused_partitions", in: metrics) == 0)
            // An intent and an outcome per valid request, sharing records; one request each held.
            #expect(prometheusValue("chanjing_worker_ledger_entries_written_total", in: metrics) == Double(2 * valid))
            #expect((1...Double(2 * valid)).contains(prometheusValue("chanjing_worker_ledger_records_total", in: metrics) ?? 0))
            #expect(prometheusValue("chanjing_worker_ledger_entries_held", in: metrics) == Double(valid))
            #expect(prometheusValue("chanjing_worker_ledger_records_read_total", in: metrics) == 0, "the ledger partitions were empty when assigned")
            // Series the alerts read with increase(), at 0 before their first increment.
            for series in [
                #"chanjing_worker_results_total{status="failed",code="retries_exhausted"}"#, #"chanjing_worker_results_total{status="failed",code="quota_exhausted"}"#,
                #"chanjing_worker_token_refreshes_total{outcome="failure"}"#, #"chanjing_worker_retries_total{kind="ambiguous"}"#,
                #"chanjing_worker_requests_lost_to_retention_total{topic="\#(topic)",partition="2"}"#, "chanjing_worker_ledger_entries_dropped_total",
                "chanjing_worker_ledger_read_backs_total", "chanjing_worker_ledger_entries_compacted",
            ] {
                #expect(prometheusValue(series, in: metrics) == 0, "\(series)")
            }
            #expect(prometheusValue("chanjing_worker_ledger_memory_limit_bytes", in: metrics) == Double(256 << 20))
            #expect((1...Double(valid * 600)).contains(prometheusValue("chanjing_worker_ledger_memory_bytes", in: metrics) ?? 0))
            #expect(!metrics.contains("sim-secret") && !metrics.contains("access_token"))

            // A second member takes partitions away: their lag series disappear from the first.
            let (second, secondRun) = try await harness.startWorker(configuration)
            try await eventually(40, "revoked partitions' lag series removed") {
                let text = try await httpGet("\(base)/metrics").body
                let series = text.split(separator: "\n").filter { $0.hasPrefix("chanjing_worker_consumer_lag_messages{") }
                return !series.isEmpty && series.count < 3
            }
            await second.shutdown()
            try await secondRun.value
            await worker.shutdown()
            try await run.value
        }
    }

    @Test("/healthz and /readyz report a worker whose brokers are gone", .timeLimit(.minutes(2)))
    func readinessFollowsTheCluster() async throws {
        let harness = try await WorkerHarness(partitions: 1)
        try await harness.run(within: 110, "readinessFollowsTheCluster") {
            var configuration = harness.configuration
            configuration.httpPort = 0
            configuration.statisticsInterval = .milliseconds(300)
            let (worker, run) = try await harness.startWorker(configuration)
            let base = "http://127.0.0.1:\(try #require(await worker.httpPort()))"
            try await eventually(30, "ready") { try await httpGet("\(base)/readyz").status == 200 }
            harness.kafka.cluster.setBroker(1, up: false)
            try await eventually(30, "not ready while the broker is down") {
                let (status, body) = try await httpGet("\(base)/readyz")
                return status == 503 && !body.isEmpty
            }
            // The poll loop keeps polling while the broker is down: the process is alive.
            #expect(try await httpGet("\(base)/healthz").status == 200)
            harness.kafka.cluster.setBroker(1, up: true)
            try await eventually(40, "ready again") { try await httpGet("\(base)/readyz").status == 200 }
            await worker.shutdown()
            try await run.value
        }
    }

    @Test("a request's W3C traceparent reaches its result and the worker's log lines", .timeLimit(.minutes(2)))
    func traceparentTravels() async throws {
        let harness = try await WorkerHarness(partitions: 1)
        let sink = LogSink()
        try await harness.run(within: 100, "traceparentTravels") {
            let traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
            try await harness.kafka.produce([requestJSON(id: "traced")], headers: [KafkaHeader(name: "traceparent", text: traceparent)])
            let runtime = try await WorkerRuntime(
                configuration: harness.configuration, credentials: .app(appID: "sim-app", secretKey: "sim-secret"),
                logger: TestLogging.capturing(sink, level: .info)
            )
            let run = Task { try await runtime.run() }
            let results = try await harness.results(atLeast: 1, within: 40)
            await runtime.shutdown()
            try await run.value
            let result = try #require(results.first)
            #expect(result.1.status == .submitted)
            #expect(result.0.headers.contains { $0.name == "traceparent" && $0.value == Array(traceparent.utf8) })
            #expect(sink.all.contains { $0.contains("Request submitted") && $0.contains(traceparent) }, "the submit log line names the trace")
        }
    }
}
