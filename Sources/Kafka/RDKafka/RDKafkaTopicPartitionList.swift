import Crdkafka

/// Helpers for `rd_kafka_topic_partition_list_t`.
enum RDKafkaTopicPartitionList {
    /// The entries of a list librdkafka owns, copied out.
    static func entries(_ list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) -> [(TopicPartition, offset: Int64, err: rd_kafka_resp_err_t)] {
        let count = Int(list.pointee.cnt)
        guard count > 0, let elements = list.pointee.elems else { return [] }
        return (0..<count).map { index in
            let element = elements[index]
            return (TopicPartition(topic: String(cString: element.topic), partition: element.partition), element.offset, element.err)
        }
    }

    static func partitions(_ list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) -> [TopicPartition] {
        entries(list).map(\.0)
    }

    /// Each partition's offset in the list (an answer librdkafka filled in).
    static func offsets(_ list: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) -> [TopicPartition: Int64] {
        var offsets: [TopicPartition: Int64] = [:]
        for entry in entries(list) { offsets[entry.0] = entry.offset }
        return offsets
    }

    /// Builds a list, runs `body` with it and destroys it afterwards: a leaked list makes
    /// `rd_kafka_destroy` hang.
    static func withList<R, E: Error>(
        _ partitions: [(TopicPartition, offset: Int64)],
        _ body: (UnsafeMutablePointer<rd_kafka_topic_partition_list_t>) throws(E) -> R
    ) throws(E) -> R {
        let list = rd_kafka_topic_partition_list_new(Int32(max(partitions.count, 1)))!
        defer { rd_kafka_topic_partition_list_destroy(list) }
        for (partition, offset) in partitions {
            let element = rd_kafka_topic_partition_list_add(list, partition.topic, partition.partition)!
            element.pointee.offset = offset
        }
        return try body(list)
    }
}
