import Foundation
import Kafka
import Logging
import VideoContract

/// Takes one request record from bytes to an acknowledged result: decode and validate, submit,
/// publish. Everything that can go wrong with the request becomes a result; only shutdown
/// (cancellation) or a dead producer leaves it unfinished, to be redelivered.
struct RequestProcessor: Sendable {
    let decoder: RequestDecoder
    let submitter: Submitter
    let publisher: ResultPublisher
    let coordinator: OffsetCoordinator
    let logger: Logger

    /// True when the result was acknowledged and the record may be committed. `consumedAt` is
    /// when the worker took the record from the consumer.
    func process(_ message: KafkaMessage, consumedAt: Date) async throws(WorkerFailure) -> Bool {
        let source = VideoResult.Source(topic: message.topic, partition: message.partition, offset: message.offset)
        let decoded = decoder.decode(message.value, fallbackRequestID: "\(message.topic)-\(message.partition)-\(message.offset)")
        var metadata: Logger.Metadata = [
            "request_id": "\(decoded.requestID)", "partition": "\(message.partition)", "offset": "\(message.offset)",
        ]
        // The W3C trace context travels to the result with the other headers; logs name it too.
        if let traceparent = message.headers.first(where: { $0.name == "traceparent" })?.value, traceparent.count <= 256 {
            metadata["traceparent"] = "\(String(decoding: traceparent, as: UTF8.self))"
        }
        let result: VideoResult
        switch decoded {
        case .invalid(let rejection, let requestID):
            result = VideoResult(
                requestID: requestID,
                status: .rejected,
                error: .init(code: rejection.code, message: rejection.message, field: rejection.field),
                source: source,
                attempts: 0
            )
            metadata["error"] = "\(rejection.code.rawValue)"
            logger.info("Request rejected: \(rejection.field.map { "\($0): " } ?? "")\(rejection.message)", metadata: metadata)
        case .valid(let request):
            let coordinator = self.coordinator
            guard let outcome = await submitter.submit(request, timestamp: message.timestamp, stillWanted: { coordinator.isCurrent(message) }) else {
                return false
            }
            result = VideoResult(
                requestID: request.requestID,
                status: outcome.status,
                creationID: outcome.creationID,
                error: outcome.error,
                source: source,
                attempts: outcome.attempts,
                retries: outcome.retries,
                chanjingTraceID: outcome.traceID
            )
            if let creationID = outcome.creationID {
                metadata["creation_id"] = "\(creationID)"
                logger.info("Request submitted", metadata: metadata)
            } else {
                metadata["error"] = "\(outcome.error?.code.rawValue ?? "")"
                logger.warning("Request \(outcome.status.rawValue): \(outcome.error?.message ?? "")", metadata: metadata)
            }
        }
        return try await publisher.publish(result, for: message, consumedAt: consumedAt)
    }
}
