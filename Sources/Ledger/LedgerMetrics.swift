import Metrics

/// The ledger's metrics, recorded through the factory of the worker that owns it.
public struct LedgerMetrics: Sendable {
    /// Every metric name the ledger exports.
    public static let names = [records, entries, entriesHeld, entriesCompacted, memory, memoryLimit, entriesDropped, recordsRead, readBacks]

    static let records = "chanjing_worker_ledger_records_total"
    static let entries = "chanjing_worker_ledger_entries_written_total"
    static let entriesHeld = "chanjing_worker_ledger_entries_held"
    static let entriesCompacted = "chanjing_worker_ledger_entries_compacted"
    static let memory = "chanjing_worker_ledger_memory_bytes"
    static let memoryLimit = "chanjing_worker_ledger_memory_limit_bytes"
    static let entriesDropped = "chanjing_worker_ledger_entries_dropped_total"
    static let recordsRead = "chanjing_worker_ledger_records_read_total"
    static let readBacks = "chanjing_worker_ledger_read_backs_total"

    private let recordsWritten: Counter
    private let entriesWritten: Counter
    private let recordsReadCounter: Counter
    private let readBackCounter: Counter
    private let droppedCounter: Counter
    private let heldGauge: Gauge
    private let compactedGauge: Gauge
    private let memoryGauge: Gauge
    private let limitGauge: Gauge

    /// Every series exists, at 0, from the start: an alert's `increase()` sees the first drop.
    public init(factory: any MetricsFactory) {
        recordsWritten = Counter(label: Self.records, factory: factory)
        entriesWritten = Counter(label: Self.entries, factory: factory)
        recordsReadCounter = Counter(label: Self.recordsRead, factory: factory)
        readBackCounter = Counter(label: Self.readBacks, factory: factory)
        droppedCounter = Counter(label: Self.entriesDropped, factory: factory)
        heldGauge = Gauge(label: Self.entriesHeld, factory: factory)
        compactedGauge = Gauge(label: Self.entriesCompacted, factory: factory)
        memoryGauge = Gauge(label: Self.memory, factory: factory)
        limitGauge = Gauge(label: Self.memoryLimit, factory: factory)
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

    /// A compacted request's record was read back.
    func readBack() {
        readBackCounter.increment()
    }

    /// Compacted requests were dropped to stay within the memory limit.
    func dropped(entries: Int) {
        droppedCounter.increment(by: entries)
    }

    /// What the ledger holds: requests in full and compacted, and their estimated memory.
    func held(entries: Int, compacted: Int, bytes: Int) {
        heldGauge.record(entries)
        compactedGauge.record(compacted)
        memoryGauge.record(bytes)
    }

    /// The memory limit (`--ledger-memory`).
    func limit(bytes: Int) {
        limitGauge.record(bytes)
    }
}
