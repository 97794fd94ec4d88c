import Kafka
import Ledger
import Metrics
import class Prometheus.PrometheusCollectorRegistry
import struct Prometheus.PrometheusMetricsFactory
import Foundation
import Synchronization
import VideoContract

/// The worker's metrics, recorded through swift-metrics into a Prometheus registry of its own
/// (one per worker, so several workers in one process never share series).
public final class WorkerMetrics: Sendable {
    /// Every metric name the worker exports: the deployment files' alert rules are checked
    /// against this list.
    public static let names = [
        requestsConsumed, results, chanjingCalls, retries, submitDuration, inFlight, pausedPartitions,
        circuitOpen, tokenRefreshes, tokenAvailable, tokenContended, tokenExpiresAt, tokenFetchedHere, poolMembers, poolAcceptedRate, consumerLag, lostToRetention, duplicatesAvoided, reconciliations,
        tasksFollowed, oldestFollowedAge, completions, renderDuration, taskQueries, info,
    ] + LedgerMetrics.names

    static let requestsConsumed = "chanjing_worker_requests_consumed_total"
    static let results = "chanjing_worker_results_total"
    static let chanjingCalls = "chanjing_worker_chanjing_calls_total"
    static let retries = "chanjing_worker_retries_total"
    static let submitDuration = "chanjing_worker_submit_duration_seconds"
    static let inFlight = "chanjing_worker_requests_in_flight"
    static let pausedPartitions = "chanjing_worker_paused_partitions"
    static let circuitOpen = "chanjing_worker_circuit_open"
    static let tokenRefreshes = "chanjing_worker_token_refreshes_total"
    static let tokenAvailable = "chanjing_worker_token_available"
    static let tokenContended = "chanjing_worker_token_contended"
    static let tokenExpiresAt = "chanjing_worker_token_expires_at_seconds"
    static let tokenFetchedHere = "chanjing_worker_token_fetched_here"
    static let poolMembers = "chanjing_worker_pool_members"
    static let poolAcceptedRate = "chanjing_worker_pool_accepted_per_second"

    /// The pool as this member sees it on the coordination topic, for the gauges.
    struct PoolSample {
        /// Members that reported recently, this one included.
        var members: Int
        /// Calls per second Chanjing accepted (submits and task queries), summed over their latest reports.
        var acceptedPerSecond: Double
        var tokenExpiresAt: Date?
        var tokenFetchedHere: Bool
        /// Fresh tokens keep being refused.
        var contended: Bool
    }
    static let consumerLag = "chanjing_worker_consumer_lag_messages"
    static let lostToRetention = "chanjing_worker_requests_lost_to_retention_total"
    static let duplicatesAvoided = "chanjing_worker_duplicates_avoided_total"
    static let reconciliations = "chanjing_worker_reconciliations_total"
    static let tasksFollowed = "chanjing_worker_tasks_followed"
    static let oldestFollowedAge = "chanjing_worker_oldest_followed_task_age_seconds"
    static let completions = "chanjing_worker_completions_total"
    static let renderDuration = "chanjing_worker_render_duration_seconds"
    static let taskQueries = "chanjing_worker_task_queries_total"
    static let info = "chanjing_worker_info"

    /// How a duplicate submit was avoided.
    enum DuplicateAvoided: String {
        /// A redelivered request was answered from the ledger.
        case replayed
        /// A task an earlier submit created was found and adopted.
        case adopted
    }

    /// How a reconciliation with Chanjing's task list ended.
    enum Reconciliation: String {
        case adopted
        case notFound = "not_found"
        case failed
    }

    /// The registry `GET /metrics` renders.
    public let registry = PrometheusCollectorRegistry()
    private let factory: PrometheusMetricsFactory
    private let inFlightMeter: Meter
    private let submitTimer: Timer
    private let renderTimer: Timer
    /// Counters by name and labels: looking a handle up in the registry on every event costs
    /// more than the event itself at thousands of requests per second.
    private let counters = Mutex<[CounterKey: Counter]>([:])
    private let lagGauges = Mutex<[TopicPartition: Gauge]>([:])

    public init() {
        var factory = PrometheusMetricsFactory(registry: registry)
        // Chanjing answers a submit in tens of milliseconds to tens of seconds.
        factory.durationHistogramBuckets[Self.submitDuration] = [
            .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500),
            .seconds(1), .seconds(2.5), .seconds(5), .seconds(10), .seconds(20), .seconds(30),
        ]
        // Kling renders in tens of seconds to tens of minutes; tracking gives up after an hour by default.
        factory.durationHistogramBuckets[Self.renderDuration] = [15, 30, 60, 90, 120, 180, 300, 600, 1200, 1800, 3600].map { Duration.seconds($0) }
        self.factory = factory
        renderTimer = Timer(label: Self.renderDuration, factory: factory)
        inFlightMeter = Meter(label: Self.inFlight, factory: factory)
        submitTimer = Timer(label: Self.submitDuration, factory: factory)
    }

    /// A counter series: each counter has fixed label names, at most two, so its name and the
    /// label values identify the series without building a string per event.
    private struct CounterKey: Hashable {
        var label: String
        var first: String?
        var second: String?
    }

    private func counter(_ label: String, _ dimensions: [(String, String)]) -> Counter {
        precondition(dimensions.count <= 2, "CounterKey holds two label values")
        let key = CounterKey(label: label, first: dimensions.first?.1, second: dimensions.count > 1 ? dimensions[1].1 : nil)
        return counters.withLock { counters in
            if let counter = counters[key] { return counter }
            let counter = Counter(label: label, dimensions: dimensions, factory: factory)
            counters[key] = counter
            return counter
        }
    }

    func consumed(topic: String) {
        counter(Self.requestsConsumed, [("topic", topic)]).increment()
    }

    func published(_ result: VideoResult) {
        let code = result.error?.code.rawValue ?? "none"
        counter(Self.results, [("status", result.status.rawValue), ("code", code)]).increment()
    }

    /// One Chanjing submit call: `code` is Chanjing's code or the transport outcome.
    func chanjingCall(code: String, duration: Duration) {
        counter(Self.chanjingCalls, [("code", code)]).increment()
        submitTimer.recordNanoseconds(duration.nanoseconds)
    }

    func retried(ambiguous: Bool) {
        counter(Self.retries, [("kind", ambiguous ? "ambiguous" : "safe")]).increment()
    }

    func tokenRefreshed(succeeded: Bool) {
        counter(Self.tokenRefreshes, [("outcome", succeeded ? "success" : "failure")]).increment()
    }

    func lostToRetention(_ partition: TopicPartition, count: Int64) {
        counter(Self.lostToRetention, Self.dimensions(partition)).increment(by: count)
    }

    func duplicateAvoided(_ how: DuplicateAvoided) {
        counter(Self.duplicatesAvoided, [("how", how.rawValue)]).increment()
    }

    func reconciled(_ outcome: Reconciliation) {
        counter(Self.reconciliations, [("outcome", outcome.rawValue)]).increment()
    }

    /// One task query (`task/page` with `unique_ids`): `code` as for submits.
    func taskQuery(code: String) {
        counter(Self.taskQueries, [("code", code)]).increment()
    }

    /// A completion published; its render time is recorded unless it expired.
    func completed(_ completion: VideoCompletion) {
        counter(Self.completions, [("status", completion.status.rawValue), ("code", completion.error?.code.rawValue ?? "none")]).increment()
        if completion.status != .expired { renderTimer.recordNanoseconds(Int64(completion.renderSeconds * 1e9)) }
    }

    /// Always 1, labelled with the worker's consumer group and requests topic: the alerts on a
    /// backlog without workers match it to the group's lag, so that another pool (staging)
    /// does not hide this one's outage.
    func running(group: String, requestsTopic: String) {
        Gauge(label: Self.info, dimensions: [("group", group), ("topic", requestsTopic)], factory: factory).record(1)
    }

    /// The series the alerts read with `increase()` or `rate()`, at 0 from the start: Prometheus
    /// sees an increment only on a series that existed before it, so the first failed result
    /// or token refresh would go unseen.
    func seriesAtZero() {
        _ = counter(Self.results, [("status", VideoResult.Status.submitted.rawValue), ("code", "none")])
        for code in ResultErrorCode.allCases {
            _ = counter(Self.results, [("status", code.status.rawValue), ("code", code.rawValue)])
        }
        for outcome in ["success", "failure"] { _ = counter(Self.tokenRefreshes, [("outcome", outcome)]) }
        for kind in ["safe", "ambiguous"] { _ = counter(Self.retries, [("kind", kind)]) }
    }

    /// The requests partitions just assigned: their series of requests lost to retention exist
    /// at 0, so that the alert sees a one-off loss.
    func assigned(_ partitions: [TopicPartition]) {
        for partition in partitions { _ = counter(Self.lostToRetention, Self.dimensions(partition)) }
    }

    /// Tracking's series, at 0 before anything happened: an alert's `increase()` sees the first
    /// failed render only if its series existed before it (Prometheus has no earlier sample).
    func trackingStarted() {
        for (status, code) in [("succeeded", "none"), ("failed", "generation_failed"), ("failed", "no_output"), ("expired", "tracking_expired")] {
            _ = counter(Self.completions, [("status", status), ("code", code)])
        }
        _ = counter(Self.taskQueries, [("code", "0")])
        tracking(followed: 0, oldestSubmittedAt: nil)
    }

    /// The tasks being followed now, and when the oldest was submitted.
    func tracking(followed: Int, oldestSubmittedAt: Date?) {
        Gauge(label: Self.tasksFollowed, factory: factory).record(followed)
        Gauge(label: Self.oldestFollowedAge, factory: factory).record(oldestSubmittedAt.map { max(0, Date().timeIntervalSince($0)) } ?? 0)
    }

    /// The submission ledger's metrics, in the same registry. Made only for a worker with the
    /// ledger on: one without it exports none of them.
    public func makeLedgerMetrics() -> LedgerMetrics {
        LedgerMetrics(factory: factory)
    }

    func started() { inFlightMeter.increment() }
    func finished() { inFlightMeter.decrement() }


    /// Sets the gauges sampled from live state; called before each scrape. Lag series of
    /// partitions no longer assigned are removed.
    func sample(consumer: ConsumerHealth, circuitOpen: Bool, tokenAvailable: Bool, pool: PoolSample?) {
        Gauge(label: Self.pausedPartitions, factory: factory).record(consumer.pausedPartitions)
        Gauge(label: Self.circuitOpen, factory: factory).record(circuitOpen ? 1 : 0)
        Gauge(label: Self.tokenAvailable, factory: factory).record(tokenAvailable ? 1 : 0)
        if let pool {
            // 1 while fresh tokens keep being refused: someone outside the pool fetches with its app ID.
            Gauge(label: Self.tokenContended, factory: factory).record(pool.contended ? 1 : 0)
            Gauge(label: Self.tokenFetchedHere, factory: factory).record(pool.tokenFetchedHere ? 1 : 0)
            if let expiresAt = pool.tokenExpiresAt { Gauge(label: Self.tokenExpiresAt, factory: factory).record(expiresAt.timeIntervalSince1970) }
            Gauge(label: Self.poolMembers, factory: factory).record(pool.members)
            Gauge(label: Self.poolAcceptedRate, factory: factory).record(pool.acceptedPerSecond)
        }
        let lag = (consumer.statistics?.lag ?? [:]).filter { consumer.assignment.contains($0.key) }
        lagGauges.withLock { gauges in
            for (partition, gauge) in gauges where lag[partition] == nil {
                gauge.destroy()
                gauges[partition] = nil
            }
            for (partition, value) in lag {
                let gauge = gauges[partition] ?? Gauge(label: Self.consumerLag, dimensions: Self.dimensions(partition), factory: factory)
                gauges[partition] = gauge
                gauge.record(value)
            }
        }
    }

    private static func dimensions(_ partition: TopicPartition) -> [(String, String)] {
        [("topic", partition.topic), ("partition", String(partition.partition))]
    }
}

extension Duration {
    var nanoseconds: Int64 {
        components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000
    }
}
