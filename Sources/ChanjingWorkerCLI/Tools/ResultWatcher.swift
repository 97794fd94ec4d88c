import Foundation
import Kafka
import Logging
import VideoContract

/// Reads the results or the completions topic from its current end, for `enqueue --wait`:
/// records produced after it started are seen, older ones never read. It reads outside any
/// consumer group.
struct ResultWatcher<Message: Sendable>: Sendable {
    /// What each record of the topic was, and its JSON as published.
    typealias Record = (message: Message, requestID: String, json: String)
    let reader: TopicReader<Record>
    /// "results" or "completions", for progress lines.
    let what: String

    /// Starts reading every partition of `topic` from its end offset now; `decode` makes the
    /// message and its request ID of a record (nil: skipped).
    static func start(
        topic: String, what: String, properties: KafkaProperties, timeout: Duration, logger: Logger,
        decode: @escaping @Sendable ([UInt8]) -> (Message, requestID: String)?
    ) async throws(KafkaError) -> ResultWatcher {
        ResultWatcher(
            reader: try await TopicReader(topic: topic, from: .end, properties: properties, timeout: timeout, logger: logger) { record in
                decode(record.value).map { ($0.0, $0.requestID, String(decoding: record.value, as: UTF8.self)) }
            },
            what: what
        )
    }

    /// Hands the first record of each of `requestIDs` to `emit` as it arrives, with a progress
    /// line on standard error every few seconds for long batches; returns the IDs without a
    /// record once `timeout` passed.
    func waitFor(_ requestIDs: Set<String>, within timeout: Duration, emit: (Record) -> Void) async -> Set<String> {
        var missing = requestIDs
        var seen = 0
        var lastProgress = ContinuousClock.now
        await reader.wait(within: timeout) { records in
            for record in records[seen...] where missing.remove(record.requestID) != nil { emit(record) }
            seen = records.count
            if requestIDs.count > 20, !missing.isEmpty, ContinuousClock.now - lastProgress > .seconds(5) {
                printError("waiting for \(what): \(requestIDs.count - missing.count)/\(requestIDs.count)")
                lastProgress = .now
            }
            return missing.isEmpty
        }
        if let error = reader.error { printError("\(what) stopped: \(error)") }
        return missing
    }

    func stop() async {
        await reader.stop()
    }
}

extension ResultWatcher where Message == VideoResult {
    static func results(topic: String, properties: KafkaProperties, timeout: Duration, logger: Logger) async throws(KafkaError) -> ResultWatcher {
        try await start(topic: topic, what: "results", properties: properties, timeout: timeout, logger: logger) { bytes in
            (try? VideoResult.decode(bytes)).map { ($0, $0.requestID) }
        }
    }
}

extension ResultWatcher where Message == VideoCompletion {
    static func completions(topic: String, properties: KafkaProperties, timeout: Duration, logger: Logger) async throws(KafkaError) -> ResultWatcher {
        try await start(topic: topic, what: "completions", properties: properties, timeout: timeout, logger: logger) { bytes in
            (try? VideoCompletion.decode(bytes)).map { ($0, $0.requestID) }
        }
    }
}
