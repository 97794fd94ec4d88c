import ArgumentParser
import Foundation
import Kafka
import Logging
import VideoContract

/// `chanjing-worker replay`: after an outage, produces again the requests behind `failed`
/// results (and, with `--completions`, those whose task failed to render), unchanged (same
/// `request_id`, key and headers), so the pool submits them anew.
struct ReplayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Re-enqueue the requests behind failed results (or failed renders) of a time range or error code.",
        discussion: """
            Scans the results topic for `failed` results produced in [--since, --until) (and with one of the --code values, \
            when given), skips requests that also have a non-failed result, reads each request back from the requests \
            topic at the offset its result names, and produces it again unchanged. With --completions, the completions topic \
            is scanned too, for tasks Chanjing could not render (`failed` completions: generation_failed, no_output) whose \
            request has no later submit and no successful completion; the worker submits those again (and pays again). \
            Requests already deleted by retention are listed and skipped. Times are RFC 3339 (2026-11-25T08:00:00Z) or \
            relative to now (90m, 6h, 2d).
            """
    )

    @OptionGroup var cluster: ClusterOptions
    @Option(help: "Requests topic (env REQUESTS_TOPIC, default chanjing.video.requests).") var requestsTopic: String?
    @Option(help: "Results topic (env RESULTS_TOPIC, default chanjing.video.results).") var resultsTopic: String?
    @Option(help: "Replay failures produced at or after this time.") var since: String
    @Option(help: "Replay failures produced before this time (default: now).") var until: String?
    @Option(help: "Completions topic, for --completions (env COMPLETIONS_TOPIC, default chanjing.video.completions).") var completionsTopic: String?
    @Option(help: "Only failures with this error code (repeatable), e.g. retries_exhausted or generation_failed.") var code: [String] = []
    @Flag(help: "Also replay the requests whose task failed to render (failed completions).") var completions = false
    @Flag(help: "List what would be replayed without producing anything.") var dryRun = false

    func run() async throws {
        try await runTool("replay") {
            LogSetup.bootstrap(level: .warning)
            let logger = Logger(label: "replay")
            let now = Date()
            let start = try Self.time(since, flag: "--since", now: now)
            let end = try until.map { try Self.time($0, flag: "--until", now: now) } ?? now
            let known = ResultErrorCode.allCases.map(\.rawValue) + VideoCompletion.ErrorCode.allCases.map(\.rawValue)
            for text in code where !known.contains(text) {
                throw ConfigurationError("unknown --code '\(text)': use one of \(known.joined(separator: ", "))")
            }
            let codes = Set(code)
            let properties = try cluster.properties()
            let requestsTopic = setting("--requests-topic", given: requestsTopic)
            let resultsTopic = setting("--results-topic", given: resultsTopic)

            let results = try await read(resultsTopic, from: start, properties: properties, logger: logger) { try? VideoResult.decode($0.value) }
            var selection = Self.select(results, requestsTopic: requestsTopic, from: start, to: end, codes: codes)
            if completions {
                let topic = setting("--completions-topic", given: completionsTopic)
                let read = try await read(topic, from: start, properties: properties, logger: logger) { try? VideoCompletion.decode($0.value) }
                let chosen = Set(selection)
                selection += Self.select(read, results: results, requestsTopic: requestsTopic, from: start, to: end, codes: codes).filter { !chosen.contains($0) }
            }
            let requests = try await readRequests(selection, properties: properties, logger: logger)
            let found = Set(requests.map { VideoResult.Source(topic: $0.topic, partition: $0.partition, offset: $0.offset) })
            for source in selection where !found.contains(source) {
                printError("not replayed: \(source.topic)[\(source.partition)]@\(source.offset) is no longer in the topic (retention)")
            }
            if dryRun {
                for request in requests { printLine(String(decoding: request.value, as: UTF8.self)) }
                printError("dry run: \(requests.count) request(s) would be replayed")
                return
            }
            let copies = requests.map { request in
                let origin = KafkaHeader(name: "chanjing-worker-replayed-from", text: "\(request.topic)/\(request.partition)/\(request.offset)")
                // Back to its own partition, where the worker's ledger knows the request.
                return OutgoingMessage(topic: requestsTopic, partition: request.partition, key: request.key, value: request.value, headers: request.headers + [origin])
            }
            try await produceAcknowledged(copies, properties: properties, logger: logger)
            printError("replayed \(requests.count) request(s) to \(requestsTopic); \(selection.count - requests.count) no longer available")
        }
    }

    /// The records of `topic` produced since `start` (by Kafka timestamp) up to its current end,
    /// as `decode` makes them (nil: skipped).
    private func read<Record>(
        _ topic: String, from start: Date, properties: KafkaProperties, logger: Logger, decode: (KafkaMessage) -> Record?
    ) async throws -> [Record] {
        let partitions = try await ClusterInspector.partitions(of: topic, properties: properties, timeout: cluster.callTimeout, logger: logger)
        let ends = try await ClusterInspector.watermarkOffsets(properties: properties, partitions: partitions, timeout: cluster.callTimeout, logger: logger)
        let starts = try await ClusterInspector.offsets(at: start, partitions: partitions, properties: properties, timeout: cluster.callTimeout, logger: logger)
        // No offset for `start` means no record since then, unless the cluster cannot look up
        // times at all (it then finds nothing even for the distant past): read everything retained.
        let earliest = starts.values.contains { $0 < 0 }
            ? try await ClusterInspector.offsets(at: Date(timeIntervalSince1970: 0), partitions: partitions, properties: properties, timeout: cluster.callTimeout, logger: logger)
            : [:]
        var ranges: [TopicPartition: Range<Int64>] = [:]
        for partition in partitions {
            let (logStart, high) = ends[partition] ?? (0, 0)
            var from = starts[partition] ?? -1
            if from < 0 { from = (earliest[partition] ?? -1) < 0 && high > logStart ? logStart : high }
            ranges[partition] = from..<max(from, high)
        }
        return try await PartitionReader.read(ranges, properties: properties, logger: logger).compactMap(decode)
    }

    /// Reads the request records the selected results point at.
    private func readRequests(_ sources: [VideoResult.Source], properties: KafkaProperties, logger: Logger) async throws -> [KafkaMessage] {
        let wanted = Set(sources)
        var ranges: [TopicPartition: Range<Int64>] = [:]
        for source in sources {
            let partition = TopicPartition(topic: source.topic, partition: source.partition)
            let range = ranges[partition] ?? source.offset..<(source.offset + 1)
            ranges[partition] = min(range.lowerBound, source.offset)..<max(range.upperBound, source.offset + 1)
        }
        // Retention may have deleted the start of a range: begin at the log start instead.
        let logStarts = try await ClusterInspector.watermarkOffsets(properties: properties, partitions: Array(ranges.keys), timeout: cluster.callTimeout, logger: logger)
        for (partition, range) in ranges {
            let low = max(range.lowerBound, logStarts[partition]?.low ?? 0)
            ranges[partition] = low..<max(low, range.upperBound)
        }
        return try await PartitionReader.read(ranges, properties: properties, logger: logger)
            .filter { wanted.contains(VideoResult.Source(topic: $0.topic, partition: $0.partition, offset: $0.offset)) }
    }

    /// The sources of requests to replay: failed in [start, end) with a wanted code, from the
    /// requests topic, and without a non-failed result for the same request ID.
    static func select(_ results: [VideoResult], requestsTopic: String, from start: Date, to end: Date, codes: Set<String>) -> [VideoResult.Source] {
        let settled = Set(results.filter { $0.status != .failed }.map(\.requestID))
        var chosen: [String: VideoResult.Source] = [:]
        for result in results where result.status == .failed && !settled.contains(result.requestID) && result.source.topic == requestsTopic {
            guard let code = result.error?.code.rawValue, codes.isEmpty || codes.contains(code) else { continue }
            guard let produced = rfc3339(result.producedAt), produced >= start, produced < end else { continue }
            chosen[result.requestID] = chosen[result.requestID] ?? result.source  // one replay per request
        }
        return chosen.values.sorted { ($0.partition, $0.offset) < ($1.partition, $1.offset) }
    }

    /// The sources of requests whose task failed to render in [start, end) with a wanted code,
    /// unless the request has a successful completion, or a `submitted` result produced after
    /// the failure (it was replayed already, and may still be rendering).
    static func select(
        _ completions: [VideoCompletion], results: [VideoResult], requestsTopic: String, from start: Date, to end: Date, codes: Set<String>
    ) -> [VideoResult.Source] {
        let succeeded = Set(completions.filter { $0.status == .succeeded }.map(\.requestID))
        var latestSubmit: [String: Date] = [:]
        for result in results where result.status == .submitted {
            if let produced = rfc3339(result.producedAt) { latestSubmit[result.requestID] = max(latestSubmit[result.requestID] ?? produced, produced) }
        }
        var chosen: [String: VideoResult.Source] = [:]
        for completion in completions where completion.status == .failed && !succeeded.contains(completion.requestID) && completion.source.topic == requestsTopic {
            guard let code = completion.error?.code.rawValue, codes.isEmpty || codes.contains(code) else { continue }
            guard let produced = rfc3339(completion.producedAt), produced >= start, produced < end else { continue }
            if let submitted = latestSubmit[completion.requestID], submitted > produced { continue }
            chosen[completion.requestID] = chosen[completion.requestID] ?? completion.source
        }
        return chosen.values.sorted { ($0.partition, $0.offset) < ($1.partition, $1.offset) }
    }

    /// An RFC 3339 time, or a duration before `now` such as `90m`, `6h` or `2d`.
    static func time(_ text: String, flag: String, now: Date) throws(ConfigurationError) -> Date {
        if let date = rfc3339(text) { return date }
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86_400]
        if let unit = text.last.flatMap({ units[$0] }), let amount = Double(text.dropLast()), amount >= 0 {
            return now.addingTimeInterval(-amount * unit)
        }
        throw ConfigurationError("invalid \(flag) '\(text)': use an RFC 3339 time (2026-11-25T08:00:00Z) or an age such as 90m, 6h or 2d")
    }
}

/// An RFC 3339 time with or without fractional seconds.
private func rfc3339(_ text: String) -> Date? {
    (try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true))) ?? (try? Date(text, strategy: .iso8601))
}
