import Foundation

/// What librdkafka's periodic statistics (`statistics.interval.ms`) say about a consumer: its
/// group membership, its brokers, and the lag of each partition it fetches.
public struct ConsumerStatistics: Sendable, Equatable {
    /// The group coordinator state (`up` once the coordinator is known and reachable).
    public var groupState: String?
    /// The member's join state (`steady` once it has joined and holds its assignment).
    public var joinState: String?
    /// Brokers (not counting the bootstrap placeholders) whose connection is up.
    public var brokersUp: Int
    /// Messages between the consumer's committed position and the partition's end, by partition.
    /// Partitions whose lag librdkafka does not know yet are absent.
    public var lag: [TopicPartition: Int64]
    /// When the statistics were emitted.
    public var receivedAt: ContinuousClock.Instant

    public init(groupState: String?, joinState: String?, brokersUp: Int, lag: [TopicPartition: Int64], receivedAt: ContinuousClock.Instant = .now) {
        self.groupState = groupState
        self.joinState = joinState
        self.brokersUp = brokersUp
        self.lag = lag
        self.receivedAt = receivedAt
    }

    /// Whether the member has joined its group and reaches a broker.
    public var isJoined: Bool { groupState == "up" && joinState == "steady" && brokersUp > 0 }

    /// Parses librdkafka's statistics JSON; nil when it is not the expected shape.
    public static func parse(_ json: [UInt8], receivedAt: ContinuousClock.Instant = .now) -> ConsumerStatistics? {
        guard let root = (try? JSONSerialization.jsonObject(with: Data(json))) as? [String: Any] else { return nil }
        let group = root["cgrp"] as? [String: Any]
        let brokers = (root["brokers"] as? [String: Any])?.values.compactMap { $0 as? [String: Any] } ?? []
        let brokersUp = brokers.filter { ($0["nodeid"] as? Int ?? -1) >= 0 && $0["state"] as? String == "UP" }.count
        var lag: [TopicPartition: Int64] = [:]
        for (topic, value) in root["topics"] as? [String: Any] ?? [:] {
            for (key, value) in (value as? [String: Any])?["partitions"] as? [String: Any] ?? [:] {
                // Partition -1 is librdkafka's internal unassigned-messages queue.
                guard let partition = Int32(key), partition >= 0, let fields = value as? [String: Any],
                    let consumerLag = (fields["consumer_lag"] as? NSNumber)?.int64Value, consumerLag >= 0
                else { continue }
                lag[TopicPartition(topic: topic, partition: partition)] = consumerLag
            }
        }
        return ConsumerStatistics(
            groupState: group?["state"] as? String,
            joinState: group?["join_state"] as? String,
            brokersUp: brokersUp,
            lag: lag,
            receivedAt: receivedAt
        )
    }
}

/// A snapshot of a consumer's health, for metrics and probes.
public struct ConsumerHealth: Sendable {
    /// When the poll thread last completed a poll.
    public var lastPoll: ContinuousClock.Instant
    /// Partitions assigned to this member.
    public var assignment: Set<TopicPartition>
    /// Partitions paused because the Swift buffer is full (0 or the whole assignment).
    public var pausedPartitions: Int
    /// The latest statistics, if any were emitted yet.
    public var statistics: ConsumerStatistics?
}
