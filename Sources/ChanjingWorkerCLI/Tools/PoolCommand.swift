import ArgumentParser
import Foundation
import Kafka
import Logging
import PoolCoordination

/// `chanjing-worker pool`: the worker pool as its coordination topic shows it: who fetched the
/// pool's access token and when it expires, and each member's latest report (partitions, calls
/// Chanjing accepted and answered 40001 per second, pace). Reads the topic without a key: token
/// values stay sealed.
struct PoolCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pool",
        abstract: "Show the pool's members, their rates, and who holds the access token (from the coordination topic)."
    )

    @OptionGroup var cluster: ClusterOptions
    @Option(help: "The coordination topic (env COORDINATION_TOPIC, default chanjing.video.coordination).") var coordinationTopic: String?
    @Option(help: "Members silent for longer than this many seconds are not shown.") var window: Double = 60
    @Flag(help: "Print JSON for scripts instead of a table.") var json = false

    func run() async throws {
        try await runTool("pool") {
            LogSetup.bootstrap(level: .warning)
            let logger = Logger(label: "pool")
            let topic = setting("--coordination-topic", given: coordinationTopic)
            let properties = try cluster.properties()
            let range = try await CoordinationTopic.range(topic: topic, properties: properties, timeout: cluster.callTimeout, logger: logger)
            var roster = PoolRoster()
            let records = try await PartitionReader.read([TopicPartition(topic: topic, partition: 0): range], properties: properties, logger: logger)
            for message in records {
                if let record = CoordinationRecord.decode(message.value) { roster.read(record, at: message.timestamp ?? Date()) }
            }
            let members = roster.live(now: Date(), window: window)
            printLine(json ? Self.json(roster.latestToken, members) : Self.table(roster.latestToken, members))
        }
    }

    static func table(_ token: PoolRoster.Token?, _ members: [PoolRoster.Member]) -> String {
        let now = Date()
        var lines: [String] = []
        if let token {
            lines.append("token: fetched by \(token.fetchedBy) \(Int(now.timeIntervalSince(token.fetchedAt))) s ago, expires in \(Int(token.expiresAt.timeIntervalSince(now))) s")
        } else {
            lines.append("token: none published yet")
        }
        var rows = [["MEMBER", "PARTITIONS", "ACCEPTED/S", "40001/S", "PACE/S", "REPORTED"]]
        for member in members {
            let report = member.report
            rows.append([
                report.member, "\(report.partitions)", String(format: "%.1f", report.acceptedPerSecond), String(format: "%.1f", report.throttledPerSecond),
                report.paceLimit.map { String(format: "%.1f", $0) } ?? "-", "\(Int(now.timeIntervalSince(member.reportedAt))) s ago",
            ])
        }
        rows.append([
            "POOL (\(members.count))", "\(members.reduce(0) { $0 + $1.report.partitions })",
            String(format: "%.1f", members.reduce(0) { $0 + $1.report.acceptedPerSecond }),
            String(format: "%.1f", members.reduce(0) { $0 + $1.report.throttledPerSecond }), "", "",
        ])
        return (lines + [textTable(rows)]).joined(separator: "\n")
    }

    static func json(_ token: PoolRoster.Token?, _ members: [PoolRoster.Member]) -> String {
        var object: [String: Any] = [
            "members": members.map { member -> [String: Any] in
                var entry: [String: Any] = [
                    "member": member.report.member, "partitions": member.report.partitions,
                    "accepted_per_second": member.report.acceptedPerSecond, "throttled_per_second": member.report.throttledPerSecond,
                    "reported_at": ISO8601DateFormatter().string(from: member.reportedAt),
                ]
                if let pace = member.report.paceLimit { entry["pace_limit"] = pace }
                return entry
            },
        ]
        if let token {
            object["token"] = [
                "fetched_by": token.fetchedBy, "fetched_at": ISO8601DateFormatter().string(from: token.fetchedAt),
                "expires_at": ISO8601DateFormatter().string(from: token.expiresAt),
            ]
        }
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}
