import ArgumentParser
import Foundation
import Kafka
import Logging

/// `chanjing-worker lag`: where the pool's consumer group stands on the requests topic, per
/// partition, like `kafka-consumer-groups --describe`. It reads committed offsets without
/// joining the group, so the live pool is never rebalanced.
struct LagCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lag",
        abstract: "Show the worker pool's committed offset, end offset and lag per partition."
    )

    @OptionGroup var cluster: ClusterOptions
    @Option(help: "Consumer group of the pool (env KAFKA_GROUP_ID, default chanjing-worker).") var group: String?
    @Option(help: "Topic to report on (env REQUESTS_TOPIC, default chanjing.video.requests).") var topic: String?
    @Flag(help: "Print JSON for scripts instead of a table.") var json = false

    func run() async throws {
        try await runTool("lag") {
            LogSetup.bootstrap(level: .warning)
            let groupID = setting("--group", given: group)
            let topicName = setting("--requests-topic", given: topic)
            let partitions = try await ClusterInspector.groupLag(
                properties: try cluster.properties(), groupID: groupID, topic: topicName, timeout: cluster.callTimeout,
                logger: Logger(label: "lag")
            )
            printLine(json ? Self.json(group: groupID, partitions) : Self.table(group: groupID, partitions))
        }
    }

    /// The report as a table with a totals line.
    static func table(group: String, _ partitions: [PartitionLag]) -> String {
        var rows = [["GROUP", "TOPIC", "PARTITION", "COMMITTED", "LOG-START", "END", "LAG", "LOST-TO-RETENTION"]]
        for partition in partitions {
            rows.append([
                group, partition.topic, "\(partition.partition)", partition.committed.map(String.init) ?? "-",
                "\(partition.logStart)", "\(partition.end)", "\(partition.lag)", "\(partition.lostToRetention)",
            ])
        }
        rows.append([
            "TOTAL", "", "", "", "", "",
            "\(partitions.reduce(0) { $0 + $1.lag })", "\(partitions.reduce(0) { $0 + $1.lostToRetention })",
        ])
        return textTable(rows)
    }

    /// The report as one JSON object.
    static func json(group: String, _ partitions: [PartitionLag]) -> String {
        struct Report: Encodable {
            var group: String
            var partitions: [PartitionLag]
            var totalLag: Int64
            var totalLostToRetention: Int64
            enum CodingKeys: String, CodingKey {
                case group, partitions
                case totalLag = "total_lag"
                case totalLostToRetention = "total_lost_to_retention"
            }
        }
        let report = Report(
            group: group, partitions: partitions, totalLag: partitions.reduce(0) { $0 + $1.lag },
            totalLostToRetention: partitions.reduce(0) { $0 + $1.lostToRetention }
        )
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: (try? encoder.encode(report)) ?? Data(), as: UTF8.self)
    }
}
