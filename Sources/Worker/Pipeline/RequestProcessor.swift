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
    /// Nil when the submission ledger is off (`--ledger off`).
    let duplicateGuard: DuplicateGuard?
    let logger: Logger

    /// A record decoded, with its turn among copies of the same request reserved.
    struct Prepared: Sendable {
        let message: KafkaMessage
        let decoded: DecodedRequest
        /// With the ledger on: the turn of this copy among copies of the same request.
        let turn: KeyedSequencer.Ticket?
    }

    /// Decodes `message` and, with the ledger on, reserves its turn. Call it in consume order so
    /// that the first copy of a request is the one submitted.
    func prepare(_ message: KafkaMessage) -> Prepared {
        let decoded = decoder.decode(message.value, fallbackRequestID: "\(message.topic)-\(message.partition)-\(message.offset)")
        var turn: KeyedSequencer.Ticket?
        if let duplicateGuard, case .valid(let request) = decoded {
            turn = duplicateGuard.inFlight.reserve(Array("\(message.partition)/\(request.requestID)".utf8))
        }
        return Prepared(message: message, decoded: decoded, turn: turn)
    }

    /// Ends the record's turn, whether or not it was processed: the next copy may go.
    func release(_ prepared: Prepared) {
        if let turn = prepared.turn { duplicateGuard?.inFlight.finish(turn) }
    }

    /// True when the result was acknowledged and the record may be committed. `consumedAt` is
    /// when the worker took the record from the consumer. Call ``release(_:)`` afterwards.
    func process(_ prepared: Prepared, consumedAt: Date) async throws(WorkerFailure) -> Bool {
        let message = prepared.message
        let source = VideoResult.Source(topic: message.topic, partition: message.partition, offset: message.offset)
        var metadata: Logger.Metadata = [
            "request_id": "\(prepared.decoded.requestID)", "partition": "\(message.partition)", "offset": "\(message.offset)",
        ]
        // The W3C trace context travels to the result with the other headers; logs name it too.
        if let traceparent = message.headers.first(where: { $0.name == "traceparent" })?.value, traceparent.count <= 256 {
            metadata["traceparent"] = "\(String(decoding: traceparent, as: UTF8.self))"
        }
        switch prepared.decoded {
        case .invalid(let rejection, let requestID):
            metadata["error"] = "\(rejection.code.rawValue)"
            logger.info("Request rejected: \(rejection.field.map { "\($0): " } ?? "")\(rejection.message)", metadata: metadata)
            let result = VideoResult(
                requestID: requestID,
                status: .rejected,
                error: .init(code: rejection.code, message: rejection.message, field: rejection.field),
                source: source,
                attempts: 0
            )
            return try await publisher.publish(result, for: message, consumedAt: consumedAt)

        case .valid(let request):
            guard let (outcome, pendingIntent) = try await outcome(of: request, message: message, turn: prepared.turn) else { return false }
            let result = VideoResult(
                requestID: request.requestID,
                status: outcome.status,
                creationID: outcome.creationID,
                error: outcome.error,
                source: source,
                attempts: outcome.attempts,
                retries: outcome.retries,
                chanjingTraceID: outcome.traceID,
                replayed: outcome.replayed ? true : nil,
                reconciled: outcome.reconciled ? true : nil
            )
            if let creationID = outcome.creationID {
                metadata["creation_id"] = "\(creationID)"
                logger.info("Request submitted", metadata: metadata)
            } else {
                metadata["error"] = "\(outcome.error?.code.rawValue ?? "")"
                logger.warning("Request \(outcome.status.rawValue): \(outcome.error?.message ?? "")", metadata: metadata)
            }
            guard let pendingIntent, let duplicateGuard else { return try await publisher.publish(result, for: message, consumedAt: consumedAt) }
            // The outcome and the result are written at once, and both are acknowledged before the
            // offset can be committed; a crash between the two is reconciled on redelivery.
            let recording = duplicateGuard.startRecording(outcome, after: pendingIntent, partition: message.partition)
            let published = try await publisher.publish(result, for: message, consumedAt: consumedAt)
            try await recording.acknowledged()
            return published
        }
    }

    /// How a valid request ends: submitted once (guarded by the ledger when it is on), answered
    /// from the ledger, or nil when it must stay unfinished to be redelivered. `pendingIntent`,
    /// when set, is the intent whose outcome the ledger has yet to be told.
    private func outcome(
        of request: VideoRequest, message: KafkaMessage, turn: KeyedSequencer.Ticket?
    ) async throws(WorkerFailure) -> (SubmissionOutcome, pendingIntent: LedgerEntry?)? {
        let coordinator = self.coordinator
        let stillWanted: @Sendable () -> Bool = { coordinator.isCurrent(message) }
        guard let duplicateGuard, let turn else {
            return try await submitter.submit(request, timestamp: message.timestamp, stillWanted: stillWanted).map { ($0, nil) }
        }
        // Copies of one request in flight at once take turns: the first records its outcome,
        // the others are then answered from the ledger.
        do {
            try await duplicateGuard.inFlight.waitForTurn(turn)
        } catch {
            return nil  // shutdown while waiting: left unfinished
        }
        switch try await duplicateGuard.before(request, partition: message.partition) {
        case .unfinished:
            return nil
        case .answer(let outcome):
            return (outcome, nil)
        case .conflict(let detail):
            let rejection = SubmissionOutcome(status: .rejected, error: .init(code: .requestIDConflict, message: detail, field: "request_id"), attempts: 0, retries: .init())
            return (rejection, nil)
        case .submit(let intents):
            let partition = message.partition
            guard
                let outcome = try await submitter.submit(
                    request, timestamp: message.timestamp, stillWanted: stillWanted,
                    beforeCall: { () async throws(WorkerFailure) in try await intents.record() },
                    afterAmbiguousFailure: { error throws(WorkerFailure) in
                        // Only after a call, so there is a first intent.
                        let intentAt = intents.firstIntent?.date ?? Date()
                        return try await duplicateGuard.afterAmbiguousFailure(error, request: request, partition: partition, intentAt: intentAt)
                    }
                )
            else { return nil }  // nothing was sent after an intent, or the call's outcome is reconciled on redelivery
            // Without a call (for example `expired`) there is no intent to follow up.
            return (outcome, intents.firstIntent)
        }
    }
}
