import Logging

/// Where a consumer group stands on one partition: what `kafka-consumer-groups --describe`
/// shows, read without joining the group (joining would rebalance the live pool).
public struct PartitionLag: Sendable, Equatable, Encodable {
    public var topic: String
    public var partition: Int32
    /// The group's committed offset; nil when the group has committed nothing there.
    public var committed: Int64?
    /// The first offset still in the log (retention deletes below it).
    public var logStart: Int64
    /// The offset the next record will get.
    public var end: Int64

    public init(topic: String, partition: Int32, committed: Int64?, logStart: Int64, end: Int64) {
        self.topic = topic
        self.partition = partition
        self.committed = committed
        self.logStart = logStart
        self.end = end
    }

    /// Records the group has still to read. Without a commit the group starts at the log start
    /// (`auto.offset.reset=earliest`); a commit below the log start counts from the log start too,
    /// since retention already deleted the records in between.
    public var lag: Int64 { end - max(committed ?? logStart, logStart) }

    /// Records deleted by retention before the group read them (a commit below the log start).
    public var lostToRetention: Int64 { committed.map { max(0, logStart - $0) } ?? 0 }

    enum CodingKeys: String, CodingKey {
        case topic, partition, committed, end, lag
        case logStart = "log_start"
        case lostToRetention = "lost_to_retention"
    }

    /// Encodes the stored offsets and the derived `lag` and `lost_to_retention`.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(topic, forKey: .topic)
        try container.encode(partition, forKey: .partition)
        try container.encode(committed, forKey: .committed)
        try container.encode(logStart, forKey: .logStart)
        try container.encode(end, forKey: .end)
        try container.encode(lag, forKey: .lag)
        try container.encode(lostToRetention, forKey: .lostToRetention)
    }
}

extension ClusterInspector {
    /// The group's position on every partition of `topic`. Every broker call has its own
    /// deadline of `timeout`, which librdkafka 2.0.2's watermark query would otherwise ignore.
    public static func groupLag(
        properties: KafkaProperties,
        groupID: String,
        topic: String,
        timeout: Duration,
        logger: Logger
    ) async throws(KafkaError) -> [PartitionLag] {
        let partitions = try await partitions(of: topic, properties: properties, timeout: timeout, logger: logger)
        let committed = try await committedOffsets(properties: properties, groupID: groupID, partitions: partitions, timeout: timeout, logger: logger)
        let watermarks = try await watermarkOffsets(properties: properties, partitions: partitions, timeout: timeout, logger: logger)
        return partitions.map { partition in
            let offsets = watermarks[partition] ?? (low: 0, high: 0)
            let committedOffset = committed[partition].flatMap { $0 >= 0 ? $0 : nil }
            return PartitionLag(topic: topic, partition: partition.partition, committed: committedOffset, logStart: offsets.low, end: offsets.high)
        }
    }
}
