import Foundation
import Kafka
import Logging

/// Reads at start-up how long the ledger topic keeps its records and says what that means: how
/// long the ledger remembers a request, and whether that falls short of the requests topic or
/// never ends. Advice only: a cluster that does not describe topic configurations (the mock,
/// or a principal without the `DescribeConfigs` ACL) is noted and the worker starts.
public enum LedgerTopicCheck {
    /// What the topics' configurations mean for the ledger.
    struct Assessment: Equatable {
        /// How long the ledger remembers a request, in one line.
        var summary: String
        /// Settings that make it remember too little (paid duplicates) or forever (memory).
        var warnings: [String] = []
    }

    /// Reads both topics' configurations and logs what they mean for the ledger.
    public static func run(ledgerTopic: String, requestsTopic: String, properties: KafkaProperties, timeout: Duration, logger: Logger) async {
        let configurations: [String: [String: String]]
        do {
            configurations = try await ClusterInspector.topicConfigurations(
                [ledgerTopic, requestsTopic], properties: properties, timeout: timeout, logger: logger
            )
        } catch {
            logger.notice(
                "Cannot read how long the ledger topic '\(ledgerTopic)' keeps its records (\(error)); it should have cleanup.policy=delete and a retention.ms at least the requests topic's (README: How long it remembers)"
            )
            return
        }
        let assessment = assess(
            ledger: configurations[ledgerTopic] ?? [:], ledgerTopic: ledgerTopic,
            requests: configurations[requestsTopic] ?? [:], requestsTopic: requestsTopic
        )
        logger.info("\(assessment.summary)")
        for warning in assessment.warnings { logger.warning("\(warning)") }
    }

    /// Kafka's default `retention.ms`: 7 days.
    private static let defaultRetention: Int64 = 604_800_000

    /// Assesses the ledger topic's `cleanup.policy`, `retention.ms` and `retention.bytes`
    /// against the requests topic's `retention.ms`. Missing settings take Kafka's defaults.
    static func assess(ledger: [String: String], ledgerTopic: String, requests: [String: String], requestsTopic: String) -> Assessment {
        let policies = Set((ledger["cleanup.policy"] ?? "delete").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) })
        let retention = Int64(ledger["retention.ms"] ?? "") ?? defaultRetention
        let retentionBytes = Int64(ledger["retention.bytes"] ?? "") ?? -1
        let requestsRetention = Int64(requests["retention.ms"] ?? "") ?? defaultRetention
        let settings = "cleanup.policy=\(policies.sorted().joined(separator: ",")), retention.ms=\(retention), retention.bytes=\(retentionBytes)"
        let neverDeletes = "The ledger topic '\(ledgerTopic)' never deletes its records (\(settings))"

        guard policies.contains("delete") else {
            return Assessment(
                summary: neverDeletes,
                warnings: [
                    "The ledger topic '\(ledgerTopic)' is compacted only: each ledger record has a key of its own, so compaction deletes nothing and the ledger, and every worker's memory, grow with each request. Give it cleanup.policy=delete and a retention.ms (deploy/topics/provision-topics.sh)"
                ]
            )
        }
        guard retention >= 0 || retentionBytes >= 0 else {
            return Assessment(
                summary: neverDeletes,
                warnings: [
                    "The ledger topic '\(ledgerTopic)' keeps its records forever (retention.ms=-1): the ledger, and every worker's memory, grow with each request. Set its retention.ms to how long a request can be redelivered: the requests topic's retention"
                ]
            )
        }
        var assessment = Assessment(
            summary: retention >= 0
                ? "The ledger remembers a request for \(describe(milliseconds: retention)) (\(ledgerTopic): \(settings))"
                : "The ledger remembers a request until its partition holds \(retentionBytes) bytes (\(ledgerTopic): \(settings))"
        )
        if retention >= 0, requestsRetention < 0 || requestsRetention > retention {
            let kept = requestsRetention < 0 ? "forever" : "for \(describe(milliseconds: requestsRetention))"
            assessment.warnings.append(
                "The ledger topic '\(ledgerTopic)' forgets a request after \(describe(milliseconds: retention)) but the requests topic '\(requestsTopic)' keeps it \(kept): a request redelivered later (a consumer group reset to earliest, a replay) is submitted to Chanjing again. Give the ledger at least the requests topic's retention.ms"
            )
        }
        if retentionBytes >= 0 {
            assessment.warnings.append(
                "The ledger topic '\(ledgerTopic)' deletes its oldest records once a partition holds \(retentionBytes) bytes (retention.bytes), maybe sooner than its retention.ms: a request redelivered after that is submitted to Chanjing again. Set retention.bytes=-1"
            )
        }
        return assessment
    }

    /// `604800000` → "7 days", `129600000` → "1.5 days": in the largest unit it reaches.
    static func describe(milliseconds: Int64) -> String {
        let units: [(Int64, String)] = [(86_400_000, "day"), (3_600_000, "hour"), (60_000, "minute"), (1000, "second")]
        guard let (size, name) = units.first(where: { milliseconds >= $0.0 }) else { return "\(milliseconds) ms" }
        guard milliseconds % size != 0 else { return "\(milliseconds / size) \(name)\(milliseconds == size ? "" : "s")" }
        return "\((Double(milliseconds) / Double(size) * 10).rounded() / 10) \(name)s"
    }
}
