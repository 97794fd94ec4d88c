import Crdkafka

/// A consumer's calls: start, store and commit offsets, read committed offsets, close (the poll
/// thread's own calls are in ``PollLoop``).
extension RDKafkaClient {
    /// Creates a consumer handle whose rebalances, commits and statistics reach `context`.
    static func makeConsumer(properties: KafkaProperties, context: CallbackContext) throws(KafkaError) -> RDKafkaClient {
        try make(.consumer, properties: properties, context: context) { conf in
            rd_kafka_conf_set_rebalance_cb(conf, rebalanceCallback)
            rd_kafka_conf_set_offset_commit_cb(conf, offsetCommitCallback)
            rd_kafka_conf_set_stats_cb(conf, statisticsCallback)
        }
    }

    /// Routes the main queue to the consumer queue (`rd_kafka_poll_set_consumer`).
    func pollSetConsumer() {
        rd_kafka_poll_set_consumer(pointer)
    }

    /// A handle of the queue the consumer's poll serves (after ``pollSetConsumer()``, every
    /// callback's), for a ``PollStop``.
    func consumerQueue() -> OpaquePointer? {
        rd_kafka_queue_get_consumer(pointer)
    }

    /// Subscribes to `topics` (group-managed assignment); returns the error when refused.
    func subscribe(_ topics: [String]) -> KafkaError? {
        let subscription = topics.map { (TopicPartition(topic: $0, partition: RD_KAFKA_PARTITION_UA), offset: Int64(0)) }
        let err = RDKafkaTopicPartitionList.withList(subscription) { rd_kafka_subscribe(pointer, $0) }
        return err == RD_KAFKA_RESP_ERR_NO_ERROR ? nil : KafkaError(err)
    }

    /// Assigns `partitions`, each read from its offset; returns the error when refused.
    func assign(_ partitions: [TopicPartition: Int64]) -> KafkaError? {
        let err = RDKafkaTopicPartitionList.withList(partitions.map { ($0.key, $0.value) }) { rd_kafka_assign(pointer, $0) }
        return err == RD_KAFKA_RESP_ERR_NO_ERROR ? nil : KafkaError(err)
    }

    /// Stores positions to commit; returns the partitions whose store failed (every one of them
    /// with the call's error when librdkafka names none in particular).
    func storeOffsets(_ positions: [TopicPartition: Int64]) -> [TopicPartition: KafkaError] {
        RDKafkaTopicPartitionList.withList(positions.map { ($0.key, $0.value) }) { list in
            let err = rd_kafka_offsets_store(pointer, list)
            var failures: [TopicPartition: KafkaError] = [:]
            for entry in RDKafkaTopicPartitionList.entries(list) where entry.err != RD_KAFKA_RESP_ERR_NO_ERROR {
                failures[entry.0] = KafkaError(entry.err)
            }
            if failures.isEmpty && err != RD_KAFKA_RESP_ERR_NO_ERROR {
                for partition in positions.keys { failures[partition] = KafkaError(err) }
            }
            return failures
        }
    }

    /// Starts an asynchronous commit of every stored position; returns the error when it could
    /// not start. Nothing stored since the last commit (`_NO_OFFSET`) is not an error.
    func startCommit() -> KafkaError? {
        let err = rd_kafka_commit(pointer, nil, 1)
        return err == RD_KAFKA_RESP_ERR_NO_ERROR || err == RD_KAFKA_RESP_ERR__NO_OFFSET ? nil : KafkaError(err)
    }

    /// Blocks: the offsets the handle's group has committed for `partitions` (a negative value
    /// where none is committed), asked of the group coordinator within `timeout`.
    func committedOffsets(of partitions: [TopicPartition], timeout: Duration) -> Result<[TopicPartition: Int64], KafkaError> {
        RDKafkaTopicPartitionList.withList(partitions.map { ($0, Int64(RD_KAFKA_OFFSET_INVALID)) }) { list in
            let err = rd_kafka_committed(pointer, list, timeout.milliseconds)
            guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { return .failure(KafkaError(err)) }
            return .success(RDKafkaTopicPartitionList.offsets(list))
        }
    }

    /// Blocks: closes the consumer (leaving its group, if it joined one). Call ``destroy()`` after.
    func closeConsumer() {
        rd_kafka_consumer_close(pointer)
    }
}
