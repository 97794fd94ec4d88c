import Foundation
import Kafka
import Logging

/// Where reading the coordination topic starts: a member needs the latest token record, which
/// is at most a token lifetime (about a day) old while the token is valid, and the members'
/// recent reports; reading two days back covers both without reading a week of reports.
public enum CoordinationTopic {
    /// How far back a reader starts.
    public static let lookback: TimeInterval = 2 * 86_400

    /// The offsets to read (`start..<end`) of the topic's one partition: from the first record
    /// of the last ``lookback`` (the log start when that cannot be asked) to the end.
    public static func range(topic: String, properties: KafkaProperties, timeout: Duration, logger: Logger) async throws(KafkaError) -> Range<Int64> {
        let partition = TopicPartition(topic: topic, partition: 0)
        let bounds = try await ClusterInspector.watermarkOffsets(properties: properties, partitions: [partition], timeout: timeout, logger: logger)
        let (low, high) = bounds[partition] ?? (0, 0)
        var start = low
        do {
            let recent = try await ClusterInspector.offsets(
                at: Date().addingTimeInterval(-lookback), partitions: [partition], properties: properties, timeout: timeout, logger: logger
            )
            if let offset = recent[partition], offset >= 0 { start = offset }
        } catch {
            logger.debug("Reading the coordination topic from its start: \(error)")
        }
        start = min(max(start, low), high)
        return start..<max(start, high)
    }
}
