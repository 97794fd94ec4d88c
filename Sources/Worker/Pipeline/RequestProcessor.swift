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
    ///
    /// Thousands of requests wait inside this call at once, each holding the async frames of
    /// its path: building results and logging happen in synchronous helpers, whose locals stay
    /// off those frames (see docs/benchmarks.md, scenario 5).
    func process(_ prepared: Prepared, consumedAt: Date) async throws(WorkerFailure) -> Bool {
        let message = prepared.message
        let request: VideoRequest
        switch prepared.decoded {
        case .invalid(let rejection, let requestID):
            return try await publisher.publish(rejectedResult(rejection, requestID: requestID, prepared: prepared), for: message, consumedAt: consumedAt)
        case .valid(let valid):
            request = valid
        }
        guard let ended = try await outcome(of: request, record: Record(message, coordinator: coordinator), turn: prepared.turn) else { return false }
        let result = result(of: ended.outcome, prepared: prepared)
        guard let intents = ended.intents, let duplicateGuard else { return try await publisher.publish(result, for: message, consumedAt: consumedAt) }
        // The outcome and the result are written at once, and both are acknowledged before the
        // offset can be committed; a crash between the two is reconciled on redelivery.
        let recording = duplicateGuard.startRecording(ended.outcome, after: intents, partition: message.partition)
        let published = try await publisher.publish(result, for: message, consumedAt: consumedAt)
        try await recording.acknowledged()
        return published
    }

    /// How a valid request ended. `intents`, when set, recorded the intents whose outcome the
    /// ledger has yet to be told. A class, so that the frames it passes through hold a reference.
    private final class Ended {
        let outcome: SubmissionOutcome
        let intents: IntentRecorder?

        init(outcome: SubmissionOutcome, intents: IntentRecorder? = nil) {
            self.outcome = outcome
            self.intents = intents
        }
    }

    /// How a valid request ends: submitted once (guarded by the ledger when it is on), answered
    /// from the ledger, or nil when it must stay unfinished to be redelivered.
    private func outcome(of request: VideoRequest, record: Record, turn: KeyedSequencer.Ticket?) async throws(WorkerFailure) -> Ended? {
        let (partition, timestamp, stillWanted) = (record.partition, record.timestamp, record.stillWanted)
        guard let duplicateGuard, let turn else {
            return try await submitter.submit(request, timestamp: timestamp, stillWanted: stillWanted).map { Ended(outcome: $0) }
        }
        // Copies of one request in flight at once take turns: the first records its outcome,
        // the others are then answered from the ledger.
        do {
            try await duplicateGuard.inFlight.waitForTurn(turn)
        } catch {
            return nil  // shutdown while waiting: left unfinished
        }
        switch try await duplicateGuard.before(request, partition: partition, stillWanted: stillWanted) {
        case .unfinished:
            return nil
        case .answer(let outcome):
            return Ended(outcome: outcome)
        case .submit(let intents):
            guard
                let outcome = try await submitter.submit(
                    request, timestamp: timestamp, stillWanted: stillWanted,
                    beforeCall: { () async throws(WorkerFailure) in try await intents.record() },
                    afterAmbiguousFailure: { error throws(WorkerFailure) in
                        // Only after a call, so there is a first intent.
                        let intentAt = intents.firstIntentDate ?? Date()
                        return try await duplicateGuard.afterAmbiguousFailure(error, request: request, partition: partition, intentAt: intentAt, stillWanted: stillWanted)
                    }
                )
            else { return nil }  // nothing was sent after an intent, or the call's outcome is reconciled on redelivery
            // Without a call (for example `expired`) there is no intent to follow up.
            return Ended(outcome: outcome, intents: intents.firstIntentDate == nil ? nil : intents)
        }
    }

    /// What submitting needs of a request's Kafka record.
    private struct Record {
        let partition: Int32
        let timestamp: Date?
        /// False once the record's partition was revoked: it is then its next owner's.
        let stillWanted: @Sendable () -> Bool

        init(_ message: KafkaMessage, coordinator: OffsetCoordinator) {
            partition = message.partition
            timestamp = message.timestamp
            stillWanted = { coordinator.isCurrent(message) }
        }
    }

    /// The `rejected` result of a request that failed validation, logged.
    @inline(never)
    private func rejectedResult(_ rejection: RequestRejection, requestID: String, prepared: Prepared) -> VideoResult {
        var metadata = Self.metadata(prepared)
        metadata["error"] = "\(rejection.code.rawValue)"
        logger.info("Request rejected: \(rejection.field.map { "\($0): " } ?? "")\(rejection.message)", metadata: metadata)
        return VideoResult(
            requestID: requestID,
            status: .rejected,
            error: .init(code: rejection.code, message: rejection.message, field: rejection.field),
            source: Self.source(prepared.message),
            attempts: 0
        )
    }

    /// The result of a valid request that ended with `outcome`, logged.
    @inline(never)
    private func result(of outcome: SubmissionOutcome, prepared: Prepared) -> VideoResult {
        var metadata = Self.metadata(prepared)
        if let creationID = outcome.creationID {
            metadata["creation_id"] = "\(creationID)"
            logger.info("Request submitted", metadata: metadata)
        } else {
            metadata["error"] = "\(outcome.error?.code.rawValue ?? "")"
            logger.warning("Request \(outcome.status.rawValue): \(outcome.error?.message ?? "")", metadata: metadata)
        }
        return VideoResult(
            requestID: prepared.decoded.requestID,
            status: outcome.status,
            creationID: outcome.creationID,
            error: outcome.error,
            source: Self.source(prepared.message),
            attempts: outcome.attempts,
            retries: outcome.retries,
            chanjingTraceID: outcome.traceID,
            replayed: outcome.replayed ? true : nil,
            reconciled: outcome.reconciled ? true : nil
        )
    }

    private static func source(_ message: KafkaMessage) -> VideoResult.Source {
        VideoResult.Source(topic: message.topic, partition: message.partition, offset: message.offset)
    }

    /// The log metadata naming a request.
    private static func metadata(_ prepared: Prepared) -> Logger.Metadata {
        let message = prepared.message
        var metadata: Logger.Metadata = [
            "request_id": "\(prepared.decoded.requestID)", "partition": "\(message.partition)", "offset": "\(message.offset)",
        ]
        // The W3C trace context travels to the result with the other headers; logs name it too.
        if let traceparent = message.headers.first(where: { $0.name == "traceparent" })?.value, traceparent.count <= 256 {
            metadata["traceparent"] = "\(String(decoding: traceparent, as: UTF8.self))"
        }
        return metadata
    }
}
