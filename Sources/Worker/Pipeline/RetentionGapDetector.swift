import Kafka
import Logging
import Synchronization

/// Notices requests that retention deleted before the group read them: when the first record
/// of a newly assigned partition lies beyond the offset the group had committed at assignment
/// and the log now starts past that offset, the records in between are gone. They are logged
/// and counted (`chanjing_worker_requests_lost_to_retention_total`); nothing else can be done.
///
/// A group with no committed offset starts at the log start and has nothing to compare with.
final class RetentionGapDetector: Sendable {
    /// What is known of one partition's current assignment.
    private struct Entry {
        var generation: Int
        /// The committed offset read at assignment: nil while unknown, `.some(nil)` when none.
        var committed: Int64??
        var firstOffset: Int64?
    }

    private let metrics: WorkerMetrics
    private let logger: Logger
    private let entries = Mutex<[TopicPartition: Entry]>([:])
    private let attached = Mutex<KafkaConsumer?>(nil)

    init(metrics: WorkerMetrics, logger: Logger) {
        self.metrics = metrics
        self.logger = logger
    }

    /// Connects the consumer to ask (set before it joins the group).
    func attach(_ consumer: KafkaConsumer) {
        attached.withLock { $0 = consumer }
    }

    private func consumer() -> KafkaConsumer? {
        attached.withLock { $0 }
    }

    /// Reads the committed offsets of newly assigned partitions, before any of their records is
    /// processed (and so before this worker commits anything there).
    func assigned(_ partitions: [TopicPartition], generation: Int) {
        entries.withLock { entries in
            for partition in partitions { entries[partition] = Entry(generation: generation) }
        }
        guard let consumer = consumer() else { return }
        for partition in partitions {
            Task {
                let committed = await consumer.committedOffset(partition, timeout: .seconds(10))
                update(partition, generation: generation) { $0.committed = .some(committed) }
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
        let ready: (committed: Int64, first: Int64)? = entries.withLock { entries in
            guard var entry = entries[partition], entry.generation == generation else { return nil }
            let wasComplete = entry.committed != nil && entry.firstOffset != nil
            change(&entry)
            entries[partition] = entry
            guard !wasComplete, case .some(.some(let committed)) = entry.committed, let first = entry.firstOffset else { return nil }
            return (committed, first)
        }
        guard let ready, ready.first > ready.committed, let logStart = consumer()?.cachedLogStart(partition), logStart > ready.committed else { return }
        let lost = min(logStart, ready.first) - ready.committed
        metrics.lostToRetention(partition, count: lost)
        logger.warning(
            "Requests were deleted by retention before this group read them",
            metadata: ["partition": "\(partition)", "committed": "\(ready.committed)", "log_start": "\(logStart)", "lost": "\(lost)"]
        )
    }
}
