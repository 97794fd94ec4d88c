import Crdkafka

/// Blocking questions to the cluster, asked by ``ClusterInspector`` through a client of its own.
extension RDKafkaClient {
    /// Blocks: the partition count of every topic on the cluster, from one metadata request.
    /// Topics the metadata reports an error for are left out.
    func topicPartitionCounts(timeout: Duration) -> Result<[String: Int], KafkaError> {
        var metadata: UnsafePointer<rd_kafka_metadata>?
        let err = rd_kafka_metadata(pointer, 1, nil, &metadata, timeout.milliseconds)
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR, let metadata else { return .failure(KafkaError(err)) }
        defer { rd_kafka_metadata_destroy(metadata) }
        var topics: [String: Int] = [:]
        for index in 0..<Int(metadata.pointee.topic_cnt) {
            let topic = metadata.pointee.topics[index]
            guard topic.err == RD_KAFKA_RESP_ERR_NO_ERROR else { continue }
            topics[String(cString: topic.topic)] = Int(topic.partition_cnt)
        }
        return .success(topics)
    }

    /// Blocks: the log start (low) and end (high) offsets of `partition`, asked of its leader.
    /// librdkafka 2.0.2 can overrun `timeout` here.
    func watermarkOffsets(of partition: TopicPartition, timeout: Duration) -> Result<(low: Int64, high: Int64), KafkaError> {
        var low: Int64 = 0
        var high: Int64 = 0
        let err = rd_kafka_query_watermark_offsets(pointer, partition.topic, partition.partition, &low, &high, timeout.milliseconds)
        return err == RD_KAFKA_RESP_ERR_NO_ERROR ? .success((low, high)) : .failure(KafkaError(err))
    }

    /// Blocks: for each of `partitions`, the offset of the first record whose timestamp is at or
    /// after `timestamp` (milliseconds since 1970), or the end offset when there is none.
    func offsetsForTimes(_ partitions: [TopicPartition], timestamp: Int64, timeout: Duration) -> Result<[TopicPartition: Int64], KafkaError> {
        RDKafkaTopicPartitionList.withList(partitions.map { ($0, timestamp) }) { list in
            let err = rd_kafka_offsets_for_times(pointer, list, timeout.milliseconds)
            guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { return .failure(KafkaError(err)) }
            return .success(RDKafkaTopicPartitionList.offsets(list))
        }
    }
}
