import Foundation
import Kafka
import Logging
import Primitives
import Synchronization

/// Writes ledger entries with group commit: the entries of one partition that arrive while a
/// write to that partition is in flight go together, as one Kafka record, in the next round
/// trip. A quiet partition's entry is written at once; on a busy one an entry waits at most for
/// the write in flight, and the records (and produce calls) per request fall as the load rises.
///
/// Each record is produced as soon as the one before it is acknowledged, from the delivery
/// report itself (on the producer's poll thread): a busy task executor does not delay the next
/// round trip. Entries are encoded by their writers, so the poll thread only joins them.
final class LedgerWriter: Sendable {
    /// Called with a record's entries, its offset and partition once Kafka has acknowledged it,
    /// before its writers resume; in offset order per partition.
    typealias Acknowledged = @Sendable (_ entries: [LedgerEntry], _ offset: Int64, _ partition: Int32) -> Void

    private typealias Queued = (entry: LedgerEntry, encoded: [UInt8], write: PendingWrite)

    private struct Queue {
        var waiting: [Queued] = []
        var writing = false
    }

    /// Entries per Kafka record: a few hundred bytes each, well under Kafka's default 1 MB
    /// `message.max.bytes`.
    static let maxEntriesPerRecord = 500
    /// Attempts at one record before its writers are told the ledger is unavailable.
    static let maxAttempts = 5

    let topic: String
    private let producer: KafkaProducer
    private let metrics: LedgerMetrics
    private let logger: Logger
    private let acknowledged: Acknowledged
    private let queues = Mutex<[Int32: Queue]>([:])
    /// Makes every record's key unique (`<writer>/<sequence>`): a record holds entries of many
    /// requests, so no later record supersedes it as a whole.
    private let writerID = UUID().uuidString.lowercased()
    private let sequence = Atomic<UInt64>(0)

    init(topic: String, producer: KafkaProducer, metrics: LedgerMetrics, logger: Logger, acknowledged: @escaping Acknowledged) {
        self.topic = topic
        self.producer = producer
        self.metrics = metrics
        self.logger = logger
        self.acknowledged = acknowledged
    }

    /// Queues `entry` for ledger partition `partition`; the returned write completes when Kafka
    /// has acknowledged it.
    func write(_ entry: LedgerEntry, partition: Int32) -> PendingWrite {
        let queued = (entry: entry, encoded: entry.encoded(), write: PendingWrite())
        let writeNow = queues.withLock { queues in
            if queues[partition]?.writing == true {
                queues[partition]?.waiting.append(queued)
                return false
            }
            queues[partition] = Queue(writing: true)
            return true
        }
        if writeNow { produce([queued], partition: partition, failures: 0) }
        return queued.write
    }

    private func produce(_ batch: [Queued], partition: Int32, failures: Int) {
        let key = "\(writerID)/\(sequence.add(1, ordering: .relaxed).newValue)"
        let message = OutgoingMessage(topic: topic, partition: partition, key: Array(key.utf8), value: LedgerEntry.record(batch.map(\.encoded)))
        producer.send(message) { result in
            self.delivered(batch, partition: partition, failures: failures, result: result)
        }
    }

    /// Completes a record's writes, or writes it again after a failure; then produces the
    /// partition's next record, or marks the partition idle.
    private func delivered(_ batch: [Queued], partition: Int32, failures: Int, result: Result<DeliveryReport, KafkaError>) {
        let outcome: Result<Int64, LedgerError>
        switch result {
        case .success(let report):
            metrics.written(entries: batch.count)
            acknowledged(batch.map(\.entry), report.offset, partition)
            outcome = .success(report.offset)
        case .failure(let error):
            if let fatal = producer.fatalError {
                outcome = .failure(.producerFailed(fatal))
            } else if error.isQueueFull {
                retry(batch, partition: partition, failures: failures, after: KafkaProducer.queueFullBackoff)
                return
            } else if failures + 1 < Self.maxAttempts, !error.isProducerClosed {
                logger.warning("Ledger write failed; writing again", metadata: ["partition": "\(partition)", "error": "\(error)"])
                retry(batch, partition: partition, failures: failures + 1, after: .milliseconds(100 * (1 << (failures + 1))))
                return
            } else {
                outcome = .failure(.unavailable("cannot write to \(topic)[\(partition)]: \(error)"))
            }
        }
        let next = queues.withLock { queues -> [Queued]? in
            let count = min(queues[partition]?.waiting.count ?? 0, Self.maxEntriesPerRecord)
            guard count > 0 else {
                queues[partition] = nil
                return nil
            }
            defer { queues[partition]?.waiting.removeFirst(count) }
            return Array(queues[partition]!.waiting.prefix(count))
        }
        // The next record goes out before this one's writers resume.
        if let next { produce(next, partition: partition, failures: 0) }
        for queued in batch { queued.write.complete(outcome) }
    }

    private func retry(_ batch: [Queued], partition: Int32, failures: Int, after delay: Duration) {
        Task {
            try? await Task.sleep(for: delay)
            self.produce(batch, partition: partition, failures: failures)
        }
    }
}

/// A ledger entry on its way to Kafka. Waiting is separate from writing, so a request can
/// publish its result while its outcome is written, and usually find the outcome acknowledged
/// without suspending.
public struct PendingWrite: Sendable {
    private let acknowledgement = Promise<Result<Int64, LedgerError>>()

    fileprivate func complete(_ result: Result<Int64, LedgerError>) {
        acknowledgement.fulfill(result)
    }

    /// Returns the offset of the Kafka record holding the entry once Kafka has acknowledged it;
    /// throws when it could not be written.
    @discardableResult
    public func acknowledged() async throws(LedgerError) -> Int64 {
        try await acknowledgement.value.get()
    }
}
