import Metrics

/// The ledger's metrics, recorded through the factory of the worker that owns it.
public struct LedgerMetrics: Sendable {
    /// Every metric name the ledger exports.
    public static let names = [records, entries, entriesHeld, recordsRead]

    static let records = "chanjing_worker_ledger_records_total"
    static let entries = "chanjing_worker_ledger_entries_written_total"
    static let entriesHeld = "chanjing_worker_ledger_entries_held"
    static let recordsRead = "chanjing_worker_ledger_records_read_total"

    private let recordsWritten: Counter
    private let entriesWritten: Counter
    private let recordsReadCounter: Counter
    private let heldGauge: Gauge

    public init(factory: any MetricsFactory) {
        recordsWritten = Counter(label: Self.records, factory: factory)
        entriesWritten = Counter(label: Self.entries, factory: factory)
        recordsReadCounter = Counter(label: Self.recordsRead, factory: factory)
        heldGauge = Gauge(label: Self.entriesHeld, factory: factory)
    }

    /// A ledger record of `entries` entries was acknowledged.
    func written(entries: Int) {
        recordsWritten.increment()
        entriesWritten.increment(by: entries)
    }

    /// Ledger partitions were read on assignment: `records` Kafka records.
    func read(records: Int) {
        recordsReadCounter.increment(by: records)
    }

    /// How many requests' entries the ledger holds.
    func held(entries: Int) {
        heldGauge.record(entries)
    }
}
