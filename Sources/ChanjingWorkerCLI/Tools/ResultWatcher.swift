import Foundation
import Kafka
import Logging
import VideoContract

/// Reads the results topic from its current end, for `enqueue --wait`: results produced after
/// it started are seen, older ones never read. It reads outside any consumer group.
struct ResultWatcher: Sendable {
    let reader: TopicReader<(result: VideoResult, json: String)>

    /// Starts reading every partition of `topic` from its end offset now.
    static func start(properties: KafkaProperties, topic: String, timeout: Duration, logger: Logger) async throws(KafkaError) -> ResultWatcher {
        ResultWatcher(
            reader: try await TopicReader(topic: topic, from: .end, properties: properties, timeout: timeout, logger: logger) { message in
                (try? VideoResult.decode(message.value)).map { ($0, String(decoding: message.value, as: UTF8.self)) }
            }
        )
    }

    /// Prints (through `emit`) the first result of each of `requestIDs` as it arrives, with a
    /// progress line on standard error every few seconds for long batches; returns the IDs
    /// without a result when `timeout` passed.
    func waitFor(_ requestIDs: Set<String>, within timeout: Duration, emit: (String) -> Void) async -> Set<String> {
        var missing = requestIDs
        var seen = 0
        var lastProgress = ContinuousClock.now
        await reader.wait(within: timeout) { records in
            for (result, json) in records[seen...] where missing.remove(result.requestID) != nil { emit(json) }
            seen = records.count
            if requestIDs.count > 20, !missing.isEmpty, ContinuousClock.now - lastProgress > .seconds(5) {
                printError("waiting for results: \(requestIDs.count - missing.count)/\(requestIDs.count)")
                lastProgress = .now
            }
            return missing.isEmpty
        }
        if let error = reader.error { printError("results stopped: \(error)") }
        return missing
    }

    func stop() async {
        await reader.stop()
    }
}
