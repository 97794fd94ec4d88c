/// Told about partition assignment changes. Both methods run on the consumer's poll thread,
/// inside librdkafka's rebalance callback, before librdkafka acts on the change.
public protocol KafkaRebalanceListener: AnyObject, Sendable {
    /// `partitions` are now owned under `generation`; messages fetched for them carry it.
    func partitionsAssigned(_ partitions: [TopicPartition], generation: Int)

    /// `partitions` are being taken away. The listener may block briefly (well below
    /// `max.poll.interval.ms`) to finish their work and store final offsets; the consumer commits
    /// stored offsets right after this returns, unless `lost` says they already belong to another
    /// member.
    func partitionsRevoking(_ partitions: [TopicPartition], lost: Bool)
}
