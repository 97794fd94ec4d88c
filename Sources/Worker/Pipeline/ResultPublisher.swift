import Foundation
import Kafka
import Logging
import VideoContract

/// Publishes results to the results topic and waits for Kafka's acknowledgement. A failed
/// delivery is produced again, never dropped.
struct ResultPublisher: Sendable {
    /// The header added to every result: when the worker consumed the request, in Unix
    /// milliseconds, so consumers can measure the worker's latency.
    static let consumedAtHeader = "chanjing-worker-consumed-at"
    /// Headers carried from a request to its result at most, and their total size in bytes, so
    /// that a result always fits the producer's `message.max.bytes`.
    static let maxCarriedHeaders = 64
    static let maxCarriedHeaderBytes = 16 * 1024

    let producer: KafkaProducer
    let topic: String
    let metrics: WorkerMetrics
    let logger: Logger

    /// Returns when the result is acknowledged (true) or the task was cancelled (false).
    /// Throws ``WorkerFailure/producerFailed(_:)`` when the producer can no longer deliver.
    func publish(_ result: VideoResult, for request: KafkaMessage, consumedAt: Date) async throws(WorkerFailure) -> Bool {
        let consumed = KafkaHeader(name: Self.consumedAtHeader, text: String(Int64(consumedAt.timeIntervalSince1970 * 1000)))
        let message = OutgoingMessage(
            topic: topic,
            key: request.key ?? Array(result.requestID.utf8),
            value: result.encoded(),
            headers: Self.carriedHeaders(request.headers) + [consumed]
        )
        guard try await producer.deliver(message, what: "Result", requestID: result.requestID, logger: logger) else { return false }
        metrics.published(result)
        return true
    }

    /// The request's headers, in order, while they fit the bounds.
    static func carriedHeaders(_ headers: [KafkaHeader], maxCount: Int = maxCarriedHeaders, maxBytes: Int = maxCarriedHeaderBytes) -> [KafkaHeader] {
        var carried: [KafkaHeader] = []
        var bytes = 0
        for header in headers.prefix(maxCount) {
            let size = header.name.utf8.count + (header.value?.count ?? 0)
            guard bytes + size <= maxBytes else { break }
            bytes += size
            carried.append(header)
        }
        return carried
    }
}

extension ResultPublisher: ResultPublishing {}

extension KafkaProducer {
    /// Produces `message` again after each failed delivery until Kafka acknowledges it: true
    /// then, false when the task was cancelled first. Throws
    /// ``WorkerFailure/producerFailed(_:)`` when the producer can no longer deliver.
    func deliver(_ message: OutgoingMessage, what: String, requestID: String, logger: Logger) async throws(WorkerFailure) -> Bool {
        var failures = 0
        while !Task.isCancelled {
            do {
                try await send(message)
                return true
            } catch {
                if let fatal = fatalError { throw .producerFailed(fatal) }
                failures += 1
                logger.warning(
                    "\(what) delivery failed; producing it again",
                    metadata: ["request_id": "\(requestID)", "failures": "\(failures)", "error": "\(error)"]
                )
                do {
                    try await Task.sleep(for: .milliseconds(min(5_000, 100 * (1 << min(failures, 6)))))
                } catch {
                    return false
                }
            }
        }
        return false
    }
}
