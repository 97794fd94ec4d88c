import Foundation
import Kafka
import Logging
import VideoContract

/// Reads the results topic from its current end, for `enqueue --wait`: results produced after
/// it started are seen, older ones never read. It reads outside any consumer group.
struct ResultWatcher: Sendable {
    let consumer: KafkaConsumer

    /// Starts reading every partition of `topic` from its end offset now.
    static func start(properties: KafkaProperties, topic: String, timeout: Duration, logger: Logger) async throws(KafkaError) -> ResultWatcher {
        let partitions = try await ClusterInspector.partitions(of: topic, properties: properties, timeout: timeout, logger: logger)
        let ends = try await ClusterInspector.watermarkOffsets(properties: properties, partitions: partitions, timeout: timeout, logger: logger)
        return ResultWatcher(consumer: try KafkaConsumer(properties: properties, partitions: ends.mapValues(\.high), logger: logger))
    }

    /// Prints (through `emit`) the first result of each of `requestIDs` as it arrives, with a
    /// progress line on standard error every few seconds for long batches; returns the IDs
    /// without a result when `timeout` passed.
    func waitFor(_ requestIDs: Set<String>, within timeout: Duration, emit: @escaping @Sendable (String) -> Void) async -> Set<String> {
        let total = requestIDs.count
        let reader = Task { () -> Set<String> in
            var missing = requestIDs
            var lastProgress = ContinuousClock.now
            do {
                for try await message in consumer.messages {
                    guard let result = try? VideoResult.decode(message.value), missing.remove(result.requestID) != nil else { continue }
                    emit(String(decoding: message.value, as: UTF8.self))
                    if missing.isEmpty { break }
                    if total > 20, ContinuousClock.now - lastProgress > .seconds(5) {
                        printError("waiting for results: \(total - missing.count)/\(total)")
                        lastProgress = .now
                    }
                }
            } catch {
                printError("results stopped: \(error)")
            }
            return missing
        }
        let timer = Task {
            try? await Task.sleep(for: timeout)
            reader.cancel()
        }
        let missing = await reader.value
        timer.cancel()
        return missing
    }

    func stop() async {
        await consumer.close()
    }
}
