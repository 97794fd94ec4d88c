import Foundation
import Kafka
import Ledger
import Logging
import Synchronization

/// Joins the ``OffsetTracker`` to the consumer: begins and finishes records, stores positions,
/// and on revocation ends the waits of the departing partitions' requests (``Revocation``) and
/// waits, bounded, for their calls under way before the consumer commits and lets them go.
///
/// Positions are stored outside the lock, by one caller at a time (so a position never
/// overtakes a later one), and a revocation waits for the store under way: a partition is
/// forgotten only while nothing is being stored, and its pending positions with it, so a late
/// completion can never store into a newer assignment of the same partition.
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
        /// Positions to store, taken from the tracker under its generation check.
        var pending: [TopicPartition: Int64] = [:]
        /// Set while one caller stores positions (outside the lock).
        var storing = false
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

    /// The revocation of the assignment the record was fetched under; ``Revocation/begun`` when
    /// that assignment is already over.
    func revocation(of message: KafkaMessage) -> Revocation {
        state.withLock { $0.tracker.revocation(of: message.topicPartition, generation: message.generation) }
    }

    /// Marks the record finished and stores the partition's new position when it moved.
    func finish(_ message: KafkaMessage) {
        let (store, revoking) = state.withLock { state in
            if let position = state.tracker.finish(message.topicPartition, offset: message.offset, generation: message.generation) {
                state.pending[message.topicPartition] = position
            }
            // Another caller storing takes this position with its next batch.
            let store = !state.storing && !state.pending.isEmpty
            if store { state.storing = true }
            return (store, state.revoking)
        }
        if store { storePending() }
        if revoking { wakeRevocation() }
    }

    /// Stores the pending positions until none is left; only one caller at a time runs it.
    private func storePending() {
        while true {
            let (batch, consumer, revoking) = state.withLock { state in
                defer { state.pending.removeAll(keepingCapacity: true) }
                if state.pending.isEmpty { state.storing = false }
                return (state.pending, state.consumer, state.revoking)
            }
            guard !batch.isEmpty else {
                if revoking { wakeRevocation() }
                return
            }
            for (partition, error) in consumer?.storeOffsets(batch) ?? [:] where !error.isStaleAssignment {
                logger.warning("Cannot store the offset of \(partition): \(error)")
            }
        }
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
        let (owned, ledger, replaced) = state.withLock { state in
            let replaced = state.tracker.assign(partitions, generation: generation)
            return (state.tracker.ownedPartitions, state.ledger, replaced)
        }
        // Assigned anew without a revocation first: the earlier assignment's requests are not wanted.
        for revocation in replaced { revocation.begin() }
        limiter.partitionsOwned(owned)
        ledger?.assigned(partitions.map(\.partition))
        retention.assigned(partitions, generation: generation)
    }

    func partitionsRevoking(_ partitions: [TopicPartition], lost: Bool) {
        let revocations = state.withLock { state in
            state.revoking = true
            return state.tracker.beginRevoke(partitions)
        }
        // The requests waiting in these partitions stop waiting and end, so the wait below is short.
        for revocation in revocations { revocation.begin() }
        // Runs on the poll thread, which has nothing else to do until the rebalance is done.
        // Every request and every store that ends wakes it; one ending between a check and the
        // wait cannot be missed, since it must take `requestEnded`'s lock to wake it.
        let deadline = Date().addingTimeInterval(revokeTimeout / .seconds(1))
        requestEnded.lock()
        if !lost {
            while state.withLock({ !$0.processingStopped && $0.tracker.inFlight(partitions) > 0 }), requestEnded.wait(until: deadline) {}
        }
        // Forgotten only while no position is being stored: the departing partitions' last
        // positions are stored before the consumer commits them, and none after.
        var released: (unfinished: Int, owned: Int, ledger: SubmissionLedger?)?
        while released == nil {
            released = state.withLock { state in
                guard !state.storing else { return nil }
                let unfinished = state.tracker.inFlight(partitions)
                state.tracker.remove(partitions)
                for partition in partitions { state.pending[partition] = nil }
                state.revoking = false
                return (unfinished, state.tracker.ownedPartitions, state.ledger)
            }
            if released == nil { _ = requestEnded.wait(until: Date().addingTimeInterval(0.1)) }
        }
        requestEnded.unlock()
        guard let released else { return }
        if released.unfinished > 0 {
            logger.warning("Releasing revoked partitions with \(released.unfinished) requests unfinished; the next owner redelivers them")
        }
        limiter.partitionsOwned(released.owned)
        released.ledger?.revoked(partitions.map(\.partition))
    }
}

extension OffsetCoordinator: OffsetStore {}
