import Crdkafka
import Logging
import Synchronization

/// Serves librdkafka's rebalance callback for a consumer: tells the listener, commits what the
/// listener stored before partitions go, and applies the assignment (eager or cooperative).
/// Runs only on the consumer's poll thread.
final class RebalanceHandler: Sendable {
    private let listener: (any KafkaRebalanceListener)?
    private let logger: Logger
    private struct State {
        var nextGeneration = 1
        var generations: [TopicPartition: Int] = [:]
    }
    private let state = Mutex(State())

    init(listener: (any KafkaRebalanceListener)?, logger: Logger) {
        self.listener = listener
        self.logger = logger
    }

    /// The generation of the current assignment of `partition` (0 when unassigned).
    func generation(of partition: TopicPartition) -> Int {
        state.withLock { $0.generations[partition] ?? 0 }
    }

    /// The partitions currently assigned.
    var assignment: Set<TopicPartition> {
        state.withLock { Set($0.generations.keys) }
    }

    func handle(_ rk: OpaquePointer, _ err: rd_kafka_resp_err_t, _ list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) {
        let partitions = RDKafkaTopicPartitionList.partitions(list)
        let cooperative = String(cString: rd_kafka_rebalance_protocol(rk)) == "COOPERATIVE"
        switch err {
        case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
            let generation = state.withLock { state in
                let generation = state.nextGeneration
                state.nextGeneration += 1
                for partition in partitions { state.generations[partition] = generation }
                return generation
            }
            logger.info("Partitions assigned", metadata: ["partitions": "\(partitions.sorted())", "generation": "\(generation)"])
            listener?.partitionsAssigned(partitions, generation: generation)
            let error = cooperative
                ? consumeErrorCode(rd_kafka_incremental_assign(rk, list))
                : rd_kafka_assign(rk, list)
            if error != RD_KAFKA_RESP_ERR_NO_ERROR {
                logger.error("Cannot apply the partition assignment: \(KafkaError(error))")
            }

        case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
            let lost = rd_kafka_assignment_lost(rk) != 0
            let started = ContinuousClock.now
            listener?.partitionsRevoking(partitions, lost: lost)
            // How long the listener held the group's rebalance (every member waits for this one).
            let held = Int((ContinuousClock.now - started) / .milliseconds(1))
            logger.info("Partitions revoked", metadata: ["partitions": "\(partitions.sorted())", "lost": "\(lost)", "held_ms": "\(held)"])
            if !lost {
                // Commit what the listener stored for the departing partitions before letting go.
                let result = rd_kafka_commit(rk, nil, 0)
                if result != RD_KAFKA_RESP_ERR_NO_ERROR && result != RD_KAFKA_RESP_ERR__NO_OFFSET {
                    logger.warning("Commit on revoke failed; the next owner will redeliver from the last committed offset: \(KafkaError(result))")
                }
            }
            state.withLock { state in
                for partition in partitions { state.generations[partition] = nil }
            }
            let error = cooperative
                ? consumeErrorCode(rd_kafka_incremental_unassign(rk, list))
                : rd_kafka_assign(rk, nil)
            if error != RD_KAFKA_RESP_ERR_NO_ERROR {
                logger.error("Cannot release revoked partitions: \(KafkaError(error))")
            }

        default:
            logger.error("Rebalance failed: \(KafkaError(err)); releasing the assignment")
            state.withLock { $0.generations.removeAll() }
            _ = rd_kafka_assign(rk, nil)
        }
    }
}

/// Converts an `rd_kafka_error_t` (which it destroys) to its code.
func consumeErrorCode(_ error: OpaquePointer?) -> rd_kafka_resp_err_t {
    guard let error else { return RD_KAFKA_RESP_ERR_NO_ERROR }
    defer { rd_kafka_error_destroy(error) }
    return rd_kafka_error_code(error)
}

func rebalanceCallback(
    _ rk: OpaquePointer?,
    _ err: rd_kafka_resp_err_t,
    _ partitions: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?,
    _ opaque: UnsafeMutableRawPointer?
) {
    guard let rk, let partitions, let handler = CallbackContext.from(opaque)?.rebalance else { return }
    handler.handle(rk, err, partitions)
}

func offsetCommitCallback(
    _ rk: OpaquePointer?,
    _ err: rd_kafka_resp_err_t,
    _ offsets: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?,
    _ opaque: UnsafeMutableRawPointer?
) {
    guard let context = CallbackContext.from(opaque) else { return }
    if err == RD_KAFKA_RESP_ERR_NO_ERROR || err == RD_KAFKA_RESP_ERR__NO_OFFSET {
        if let offsets {
            let committed = RDKafkaTopicPartitionList.entries(offsets).filter { $0.offset >= 0 }
            context.logger.trace("Offsets committed", metadata: ["offsets": "\(committed.map { "\($0.0)@\($0.offset)" })"])
        }
        return
    }
    // Not fatal: the next periodic commit carries the same (or later) positions.
    context.logger.warning("Offset commit failed; it is retried with the next commit: \(KafkaError(err))")
}
