import Foundation
import Kafka
import Logging
import Synchronization

/// Joins the ``OffsetTracker`` to the consumer: begins and finishes records, stores positions
/// in the same critical section as the generation check (so a late completion can never store
/// into a newer assignment of the same partition), and on revocation waits, bounded, for the
/// departing partitions' work before the consumer commits and lets them go.
final class OffsetCoordinator: KafkaRebalanceListener {
    private struct State {
        var tracker = OffsetTracker()
        var consumer: KafkaConsumer?
        var ledger: SubmissionLedger?
        /// Set once the pipeline has stopped: whatever is unfinished then was abandoned and will
        /// never finish, so revocation must not wait for it.
        var processingStopped = false
        /// Set while a revocation waits for its partitions' requests: each one that ends wakes it.
        var revoking = false
    }
    private let state = Mutex(State())
    /// Where a revocation sleeps on the poll thread until the requests it waits for end.
    private let requestEnded = NSCondition()
    private let revokeTimeout: Duration
    private let limiter: RateLimiter
    private let logger: Logger
    private let retention: RetentionGapDetector

    init(revokeTimeout: Duration, limiter: RateLimiter, retention: RetentionGapDetector, logger: Logger) {
        self.revokeTimeout = revokeTimeout
        self.limiter = limiter
        self.logger = logger
        self.retention = retention
    }

    /// Connects the consumer whose offsets this coordinator stores, and the ledger whose
    /// partitions follow the assignment.
    func attach(_ consumer: KafkaConsumer, ledger: SubmissionLedger?) {
        state.withLock {
            $0.consumer = consumer
            $0.ledger = ledger
        }
    }

    func begin(_ message: KafkaMessage) -> Bool {
        let current = state.withLock { $0.tracker.begin(message.topicPartition, offset: message.offset, generation: message.generation) }
        if current { retention.observe(message) }
        return current
    }

    /// True while the record's partition is still owned by the assignment it was fetched under.
    func isCurrent(_ message: KafkaMessage) -> Bool {
        state.withLock { $0.tracker.isCurrent(message.topicPartition, generation: message.generation) }
    }

    /// Marks the record finished and stores the partition's new position when it moved.
    func finish(_ message: KafkaMessage) {
        let revoking = state.withLock { state in
            let partition = message.topicPartition
            if let position = state.tracker.finish(partition, offset: message.offset, generation: message.generation) {
                let failures = state.consumer?.storeOffsets([partition: position]) ?? [:]
                for (partition, error) in failures where !error.isStaleAssignment {
                    logger.warning("Cannot store the offset of \(partition): \(error)")
                }
            }
            return state.revoking
        }
        if revoking { wakeRevocation() }
    }

    /// Marks the record left unfinished (no result: it is redelivered); a revocation stops
    /// waiting for it.
    func leave(_ message: KafkaMessage) {
        let revoking = state.withLock { state in
            state.tracker.leave(message.topicPartition, offset: message.offset, generation: message.generation)
            return state.revoking
        }
        if revoking { wakeRevocation() }
    }

    private func wakeRevocation() {
        requestEnded.lock()
        requestEnded.broadcast()
        requestEnded.unlock()
    }

    /// The pipeline has stopped processing (shutdown or failure); revocations stop waiting.
    func processingStopped() {
        state.withLock { $0.processingStopped = true }
        wakeRevocation()
    }

    func partitionsAssigned(_ partitions: [TopicPartition], generation: Int) {
        let (owned, ledger) = state.withLock { state in
            state.tracker.assign(partitions, generation: generation)
            return (state.tracker.ownedPartitions, state.ledger)
        }
        limiter.partitionsOwned(owned)
        ledger?.assigned(partitions.map(\.partition))
        retention.assigned(partitions, generation: generation)
    }

    func partitionsRevoking(_ partitions: [TopicPartition], lost: Bool) {
        state.withLock { state in
            state.tracker.beginRevoke(partitions)
            state.revoking = !lost
        }
        if !lost {
            // Runs on the poll thread, which has nothing else to do until the rebalance is done.
            // Every request that ends wakes it (a request ending between the check and the wait
            // cannot be missed: it must take `requestEnded`'s lock to wake it).
            let deadline = Date().addingTimeInterval(revokeTimeout / .seconds(1))
            requestEnded.lock()
            while state.withLock({ !$0.processingStopped && $0.tracker.inFlight(partitions) > 0 }), requestEnded.wait(until: deadline) {}
            requestEnded.unlock()
        }
        let unfinished = state.withLock { state in
            state.revoking = false
            return state.tracker.inFlight(partitions)
        }
        if unfinished > 0 {
            logger.warning("Releasing revoked partitions with \(unfinished) requests unfinished; the next owner redelivers them")
        }
        let (owned, ledger) = state.withLock { state in
            state.tracker.remove(partitions)
            return (state.tracker.ownedPartitions, state.ledger)
        }
        limiter.partitionsOwned(owned)
        ledger?.revoked(partitions.map(\.partition))
    }
}

extension OffsetCoordinator: OffsetStore {}
