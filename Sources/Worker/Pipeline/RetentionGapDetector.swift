import Kafka
import Logging
import Synchronization

/// Notices requests that retention deleted before the group read them: when the first record
/// of a newly assigned partition lies beyond the offset the group had committed at assignment
/// (offset 0 for a new group that starts at the earliest record) and the log now starts past
/// that offset, the records in between are gone. They are logged and counted
/// (`chanjing_worker_requests_lost_to_retention_total`); nothing else can be done for them.
final class RetentionGapDetector: Sendable {
    /// What is known of one partition's current assignment.
    private struct Entry {
        var generation: Int
        /// The committed offset read at assignment: nil while unknown, `.some(nil)` when none.
        var committed: Int64??
        var firstOffset: Int64?
    }

    /// Where the offsets come from: the cluster, asked with clients of their own (never the
    /// worker's consumer, which may be closed while a check still runs).
    struct Offsets: Sendable {
        /// The group's committed offsets of the partitions (negative or absent where none).
        var committed: @Sendable ([TopicPartition]) async -> [TopicPartition: Int64]
        /// The first offset still in the partition's log.
        var logStart: @Sendable (TopicPartition) async -> Int64?

        static func cluster(properties: KafkaProperties, groupID: String, logger: Logger) -> Offsets {
            Offsets(
                committed: { partitions in
                    (try? await ClusterInspector.committedOffsets(
                        properties: properties, groupID: groupID, partitions: partitions, timeout: .seconds(10), logger: logger
                    )) ?? [:]
                },
                logStart: { partition in
                    try? await ClusterInspector.watermarkOffsets(properties: properties, partitions: [partition], timeout: .seconds(10), logger: logger)[partition]?.low
                }
            )
        }
    }

    private let offsets: Offsets
    /// A group without a committed offset starts at the earliest record, so whatever lies
    /// below the log start was deleted before its first read (`auto.offset.reset=earliest`).
    private let newGroupStartsAtZero: Bool
    private let metrics: WorkerMetrics
    private let logger: Logger
    private let entries = Mutex<[TopicPartition: Entry]>([:])

    init(offsets: Offsets, newGroupStartsAtZero: Bool, metrics: WorkerMetrics, logger: Logger) {
        self.offsets = offsets
        self.newGroupStartsAtZero = newGroupStartsAtZero
        self.metrics = metrics
        self.logger = logger
    }

    /// Reads the committed offsets of newly assigned partitions, before any of their records is
    /// processed (and so before this worker commits anything there).
    func assigned(_ partitions: [TopicPartition], generation: Int) {
        metrics.assigned(partitions)
        entries.withLock { entries in
            for partition in partitions { entries[partition] = Entry(generation: generation) }
        }
        Task { [offsets] in
            let committed = await offsets.committed(partitions)
            for partition in partitions {
                let offset = committed[partition].flatMap { $0 >= 0 ? $0 : nil } ?? (newGroupStartsAtZero ? 0 : nil)
                update(partition, generation: generation) { $0.committed = .some(offset) }
            }
        }
    }

    /// Looks at `message` if it is the first of its partition's current assignment.
    func observe(_ message: KafkaMessage) {
        update(message.topicPartition, generation: message.generation) { entry in
            if entry.firstOffset == nil { entry.firstOffset = message.offset }
        }
    }

    /// Applies `change`, then checks the partition once both facts are known.
    private func update(_ partition: TopicPartition, generation: Int, _ change: (inout Entry) -> Void) {
        guard let (committed, first) = takeReady(partition, generation: generation, change), first > committed else { return }
        Task { [offsets] in
            guard let logStart = await offsets.logStart(partition), logStart > committed else { return }
            let lost = min(logStart, first) - committed
            metrics.lostToRetention(partition, count: lost)
            logger.warning(
                "Requests were deleted by retention before this group read them",
                metadata: ["partition": "\(partition)", "committed": "\(committed)", "log_start": "\(logStart)", "lost": "\(lost)"]
            )
        }
    }

    /// Applies `change`; returns the committed and first offsets the first time both are known.
    private func takeReady(_ partition: TopicPartition, generation: Int, _ change: (inout Entry) -> Void) -> (Int64, Int64)? {
        let ready: (committed: Int64, first: Int64)? = entries.withLock { entries in
            guard var entry = entries[partition], entry.generation == generation else { return nil }
            let wasComplete = entry.committed != nil && entry.firstOffset != nil
            change(&entry)
            entries[partition] = entry
            guard !wasComplete, case .some(.some(let committed)) = entry.committed, let first = entry.firstOffset else { return nil }
            return (committed, first)
        }
        return ready.map { ($0.committed, $0.first) }
    }
}
